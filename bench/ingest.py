"""Ingestion: `store.upsert_metrics` against the fastest DB-only bulk upsert of the same rows.

    nice -n 10 python bench/ingest.py [--sizes 10000 100000] [--days 50] [--repeats 5]
                                      [--backends sqlite postgresql] [--pg-url URL]

For each size N (rows = ad sets x days, one account) and each database, `--repeats` rounds; in each
round both paths run, in alternating order (ours first in even rounds, the baseline first in odd
ones), each on a table dropped and created anew (DROP TABLE / CREATE TABLE, not DELETE):
- a first pull (every row new), then a look-back re-pull (the window moved on by half its length,
  values restated: half the rows exist and are updated, half are new).

Ours is what a pull does: `store.upsert_metrics` in one transaction, from the connectors' `MetricRow`s
(money as `Decimal`, converted to micros inside). The baseline is a DB-only method with nothing
left to do in Python: its tuples (money already integer micros, days already in the driver's form)
are built before the clock starts, then
- SQLite: one prepared `INSERT ... ON CONFLICT DO UPDATE` through `executemany`, one transaction;
- PostgreSQL: binary COPY (`COPY ... FROM STDIN (FORMAT BINARY)`, psycopg 3 `write_row` with the
  columns' types set) into a temp table, then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`.
Ours gets its `MetricRow`s pre-built too (making them is the connector's cost, not the store's).

Printed per cell: medians and spread (min-max) of both, the ratio of the medians as rows/s
ours / baseline, and the spread of the per-round ratios. Target: ours >= 0.5x the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, and keep
    import sys  # bench/ itself off the path (bench/requests.py would shadow the `requests` library)

    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, Table

from agent.storage import store
from agent.storage.models import DailyMetric
from bench.common import (
    BENCH_DAY,
    DEFAULT_PG_URL,
    METRIC_COLUMNS,
    METRIC_KEYS,
    Figure,
    Report,
    ad_set_ids,
    metric_tuple,
    migrated_engine,
    postgres_answers,
    postgres_schema,
    sqlite_database,
    synthetic_metrics,
    timed,
)
from connectors.records import MetricRow

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
TARGET = 0.5
TABLE: Table = DailyMetric.__table__  # type: ignore[assignment]
Upsert = Callable[[Engine, Any], int]


def first_pull_rows(size: int, days: int) -> list[MetricRow]:
    return list(synthetic_metrics("bench", ad_set_ids("bench", max(1, size // days)), days))


def lookback_rows(size: int, days: int) -> list[MetricRow]:
    """The window moved on by half its length, with restated values: half the keys already exist."""
    end = BENCH_DAY + timedelta(days=days // 2)
    return list(synthetic_metrics("bench", ad_set_ids("bench", max(1, size // days)), days, end=end, seed=1))


def fresh_table(engine: Engine) -> None:
    """DROP and CREATE `daily_metrics` (with its index): no dead tuples or free pages left by a DELETE."""
    with engine.begin() as connection:
        TABLE.drop(connection)
        TABLE.create(connection)


def ours(engine: Engine, rows: Iterable[MetricRow]) -> int:
    """What a pull does: one transaction around `store.upsert_metrics`."""
    with engine.begin() as connection:
        return store.upsert_metrics(connection, rows, NOW)


def _update_clause() -> str:
    return ", ".join(f"{c} = excluded.{c}" for c in METRIC_COLUMNS if c not in METRIC_KEYS)


def baseline_tuples(engine: Engine, rows: Iterable[MetricRow]) -> list[tuple[Any, ...]]:
    """The rows as the database stores them, in the driver's form (built before the clock)."""
    if engine.dialect.name == "postgresql":
        return [metric_tuple(row, NOW) for row in rows]
    pulled_at = NOW.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return [metric_tuple(row, pulled_at, day_as_text=True) for row in rows]


def db_only_sqlite(engine: Engine, tuples: Sequence[tuple[Any, ...]]) -> int:
    """One prepared statement, executemany, one transaction: SQLite's own fastest bulk path."""
    placeholders = ", ".join("?" for _ in METRIC_COLUMNS)
    sql = (f"INSERT INTO daily_metrics ({', '.join(METRIC_COLUMNS)}) VALUES ({placeholders}) "
           f"ON CONFLICT ({', '.join(METRIC_KEYS)}) DO UPDATE SET {_update_clause()}")
    connection = engine.raw_connection()
    try:
        cursor: Any = connection.cursor()
        cursor.executemany(sql, tuples)
        connection.commit()
        return len(tuples)
    finally:
        connection.close()


def db_only_postgres(engine: Engine, tuples: Sequence[tuple[Any, ...]]) -> int:
    """Binary COPY into a temp table, then one set-based upsert: PostgreSQL's fastest bulk path."""
    columns = ", ".join(METRIC_COLUMNS)
    connection = engine.raw_connection()
    try:
        driver: Any = connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE bench_incoming (LIKE daily_metrics) ON COMMIT DROP")
            cursor.execute("SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                           "WHERE a.attrelid = 'bench_incoming'::regclass AND a.attnum > 0")
            types = dict(cursor.fetchall())
            with cursor.copy(f"COPY bench_incoming ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([types[c] for c in METRIC_COLUMNS])
                for row in tuples:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO daily_metrics ({columns}) SELECT {columns} FROM bench_incoming "
                           f"ON CONFLICT ({', '.join(METRIC_KEYS)}) DO UPDATE SET {_update_clause()}")
        driver.commit()
        return len(tuples)
    finally:
        connection.close()


def raw_sqlite(engine: Engine, rows: Iterable[MetricRow]) -> int:
    """Write `rows` by the SQLite baseline (bench/evaluate.py fills its accounts this way)."""
    return db_only_sqlite(engine, baseline_tuples(engine, rows))


def raw_postgres(engine: Engine, rows: Iterable[MetricRow]) -> int:
    """Write `rows` by the PostgreSQL baseline."""
    return db_only_postgres(engine, baseline_tuples(engine, rows))


def _spread(values: list[float]) -> str:
    return f"{min(values):.3g}-{max(values):.3g}"


def bench_size(report: Report, engine: Engine, size: int, days: int, repeats: int) -> None:
    baseline: Upsert = db_only_postgres if engine.dialect.name == "postgresql" else db_only_sqlite
    backend = engine.dialect.name
    inputs = {"first pull": first_pull_rows(size, days), "look-back": lookback_rows(size, days)}
    prepared = {label: baseline_tuples(engine, rows) for label, rows in inputs.items()}
    paths: dict[str, tuple[Upsert, dict[str, Any]]] = {"ours": (ours, inputs), "baseline": (baseline, prepared)}
    seconds: dict[tuple[str, str], list[float]] = {(p, label): [] for p in paths for label in inputs}
    for round_ in range(repeats):
        order = ["ours", "baseline"] if round_ % 2 == 0 else ["baseline", "ours"]
        for path in order:
            upsert, data = paths[path]
            fresh_table(engine)
            for label in inputs:  # the first pull, then the look-back on top of it
                with timed() as elapsed:
                    written = upsert(engine, data[label])
                seconds[(path, label)].append(elapsed())
                assert written == len(inputs[label])
        print(f"    {backend} N={size:,} round {round_ + 1}/{repeats} ({' first, '.join(order)} second): "
              + ", ".join(f"{p} {label} {seconds[(p, label)][-1]:.3f} s" for p in paths for label in inputs),
              flush=True)
    for label, rows in inputs.items():
        mine, theirs = seconds[("ours", label)], seconds[("baseline", label)]
        rate, bound = len(rows) / statistics.median(mine), len(rows) / statistics.median(theirs)
        per_round = [t / m for m, t in zip(mine, theirs, strict=True)]  # rows/s ratio of each round
        report.add(Figure(f"{backend} N={size:,} {label}: ours vs DB-only rows/s", rate, "rows/s",
                          limit=bound, target=TARGET, better=">=",
                          note=f"medians of {repeats}; s ours {_spread(mine)}, DB-only {_spread(theirs)}; "
                               f"round ratios {_spread(per_round)}"))


def bench_backend(report: Report, url: str, sizes: list[int], days: int, repeats: int) -> None:
    engine = migrated_engine(url)
    try:
        for size in sizes:
            bench_size(report, engine, size, days, repeats)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--days", type=int, default=50, help="days per ad set (rows = ad sets x days)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds per cell, order alternating")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    report = Report("ingestion: store.upsert_metrics vs the DB-only bulk upsert (pre-built tuples)")
    for backend in args.backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as directory, sqlite_database(Path(directory)) as url:
                bench_backend(report, url, args.sizes, args.days, args.repeats)
        elif postgres_answers(args.pg_url):
            with postgres_schema(args.pg_url) as url:
                bench_backend(report, url, args.sizes, args.days, args.repeats)
        else:
            print(f"  postgresql: no server answers at {args.pg_url}; skipped (set --pg-url)")
    report.print()
    return report


if __name__ == "__main__":
    main()
