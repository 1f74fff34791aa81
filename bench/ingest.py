"""Ingestion: `agent.store.upsert_metrics` against a raw-SQL bulk upsert of the same rows.

    python bench/ingest.py [--sizes 10000 100000 1000000] [--days 50] [--backends sqlite postgresql]

For each size N (rows = ad sets x days, one account) and each database it times, on a fresh table:
- a first pull (every row new) and a look-back re-pull (the window moved on by half its length,
  values restated: half the rows exist and are updated, half are new);
- the same two through the raw bound: SQLite `executemany` of one prepared INSERT ... ON CONFLICT
  DO UPDATE, PostgreSQL COPY into a temp table + one INSERT ... SELECT ... ON CONFLICT DO UPDATE.

Both paths start from the same lazily made `MetricRow`s (the connectors' output) and both convert
money to micros, so the bound is "the least any Python implementation must do". The time to make
the rows is measured alone and taken off both. Targets: ours >= 0.5x the bound's rows/s, and
linear in N (seconds per row at the largest N within 1.25x of the smallest N's: our tolerance).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, and keep
    import sys  # bench/ itself off the path (bench/requests.py would shadow the `requests` library)

    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from sqlalchemy import Engine

from agent.storage import store
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
LINEARITY_TOLERANCE = 1.25
Rows = Callable[[], Iterator[MetricRow]]


def _first_pull(size: int, days: int) -> Rows:
    entities = ad_set_ids("bench", max(1, size // days))
    return lambda: synthetic_metrics("bench", entities, days)


def _lookback(size: int, days: int) -> Rows:
    """The window moved on by half its length, with restated values: half the keys already exist."""
    entities = ad_set_ids("bench", max(1, size // days))
    end = BENCH_DAY + timedelta(days=days // 2)
    return lambda: synthetic_metrics("bench", entities, days, end=end, seed=1)


def _clear(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM daily_metrics"))


def ours(engine: Engine, rows: Iterator[MetricRow]) -> int:
    """What a pull does: one transaction around `store.upsert_metrics`."""
    with engine.begin() as connection:
        return store.upsert_metrics(connection, rows, NOW)


def _update_clause() -> str:
    return ", ".join(f"{c} = excluded.{c}" for c in METRIC_COLUMNS if c not in METRIC_KEYS)


def raw_sqlite(engine: Engine, rows: Iterator[MetricRow]) -> int:
    """One prepared statement, executemany over a generator: SQLite's own fastest bulk path."""
    placeholders = ", ".join("?" for _ in METRIC_COLUMNS)
    sql = (f"INSERT INTO daily_metrics ({', '.join(METRIC_COLUMNS)}) VALUES ({placeholders}) "
           f"ON CONFLICT ({', '.join(METRIC_KEYS)}) DO UPDATE SET {_update_clause()}")
    pulled_at = NOW.isoformat(sep=" ")
    connection = engine.raw_connection()
    try:
        cursor: Any = connection.cursor()  # sqlite3's executemany takes any iterable, so rows stream
        count = [0]

        def tuples() -> Iterator[tuple[Any, ...]]:
            for row in rows:
                count[0] += 1
                yield metric_tuple(row, pulled_at, day_as_text=True)

        cursor.executemany(sql, tuples())
        connection.commit()
        return count[0]
    finally:
        connection.close()


def raw_postgres(engine: Engine, rows: Iterator[MetricRow]) -> int:
    """COPY into a temp table, then one set-based upsert: PostgreSQL's fastest bulk path."""
    columns = ", ".join(METRIC_COLUMNS)
    connection = engine.raw_connection()
    try:
        driver: Any = connection.driver_connection
        count = 0
        with driver.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE bench_incoming (LIKE daily_metrics) ON COMMIT DROP")
            with cursor.copy(f"COPY bench_incoming ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(metric_tuple(row, NOW))
                    count += 1
            cursor.execute(f"INSERT INTO daily_metrics ({columns}) SELECT {columns} FROM bench_incoming "
                           f"ON CONFLICT ({', '.join(METRIC_KEYS)}) DO UPDATE SET {_update_clause()}")
        driver.commit()
        return count
    finally:
        connection.close()


def _make_only(rows: Rows) -> float:
    """Seconds spent only making the rows (taken off both paths)."""
    with timed() as elapsed:
        for _ in rows():
            pass
    return elapsed()


def bench_backend(report: Report, backend: str, url: str, sizes: list[int], days: int) -> None:
    engine = migrated_engine(url)
    raw = raw_sqlite if backend == "sqlite" else raw_postgres
    per_row: dict[str, list[tuple[int, float]]] = {"first pull": [], "look-back": []}
    try:
        for size in sizes:
            first, again = _first_pull(size, days), _lookback(size, days)
            seconds: dict[tuple[str, str], float] = {}
            for path, upsert in (("ours", ours), ("raw", raw)):
                _clear(engine)
                for label, rows in (("first pull", first), ("look-back", again)):
                    making = _make_only(rows)
                    with timed() as elapsed:
                        written = upsert(engine, rows())
                    seconds[(path, label)] = max(elapsed() - making, 1e-9)
                    print(f"    {backend} N={written:,} {label:<10} {path:<4} {elapsed():8.2f} s "
                          f"(making the rows: {making:.2f} s)", flush=True)
            for label in ("first pull", "look-back"):
                rate, bound = size / seconds[("ours", label)], size / seconds[("raw", label)]
                report.add(Figure(f"{backend} N={size:,} {label}: ours vs raw rows/s", rate, "rows/s",
                                  limit=bound, target=0.5, better=">="))
                per_row[label].append((size, seconds[("ours", label)] / size))
        for label, points in per_row.items():
            if len(points) > 1:
                (small, small_cost), (large, large_cost) = points[0], points[-1]
                report.add(Figure(f"{backend} {label}: s/row at N={large:,} vs N={small:,}", large_cost * 1e6,
                                  "us/row", limit=small_cost * 1e6, target=LINEARITY_TOLERANCE))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--days", type=int, default=50, help="days per ad set (rows = ad sets x days)")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    report = Report("ingestion: store.upsert_metrics vs raw bulk upsert")
    for backend in args.backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as directory, sqlite_database(Path(directory)) as url:
                bench_backend(report, backend, url, args.sizes, args.days)
        elif postgres_answers(args.pg_url):
            with postgres_schema(args.pg_url) as url:
                bench_backend(report, backend, url, args.sizes, args.days)
        else:
            print(f"  postgresql: no server answers at {args.pg_url}; skipped (set --pg-url)")
    report.print()
    return report


if __name__ == "__main__":
    main()
