"""CRM segments at size: a customer-list import, its re-import, the cycle's segment refresh, one erasure.

    python bench/crm_segments.py [--sizes 10000 100000] [--backends sqlite postgresql]

For each size N (customers on one list, each with an email, half with a phone, amounts, dates, consent
and one CRM field; five segments, one of each kind plus a list-only one) and each database:
- the import (`segments import`: read, normalize, hash, upsert, recompute the segments), against the
  bound of reading, normalizing and hashing the same file alone (what any import must do before a
  database sees a row): target at most 4x the bound;
- the same file again (every row unchanged): target at most the first import's time;
- the refresh each cycle starts with (retention off, segments recomputed), with its seconds per
  customer at the largest N within 1.25x of the smallest N's (linear);
- `privacy forget` of one person (outcomes table empty), reported alone.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, keep bench/ off the path
    import sys

    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config import AgentConfig, parse_config
from agent.customers.customer_list import build_customer, plan_columns
from agent.customers.importing import import_customer_list
from agent.customers.privacy import forget, refresh_at_cycle_start
from agent.customers.settings import crm_fields_used
from agent.outcomes.reader import read_rows
from bench.common import (
    DEFAULT_PG_URL,
    Figure,
    Report,
    migrated_engine,
    postgres_answers,
    postgres_schema,
    sqlite_database,
    timed,
)

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
LINEARITY_TOLERANCE = 1.25
SEGMENTS = [
    {"name": "existing-customers", "kind": "existing_customers"},
    {"name": "high-value", "kind": "high_value", "amount_above": 1000},
    {"name": "lapsed", "kind": "lapsed", "days_without_purchase": 180},
    {"name": "enterprise", "kind": "field", "field": "plan", "equals": "enterprise"},
    {"name": "vip", "kind": "existing_customers", "sources": ["lists"], "lists": ["vip"]},
]


def customer_file(directory: Path, size: int) -> Path:
    path = directory / f"customers-{size}.csv"
    lines = ["id,email,phone,amount,currency,last_purchase,marketing_consent,plan,first_name"]
    for n in range(size):
        day = (NOW - timedelta(days=n % 400)).date().isoformat()
        phone = f"+4917{n:09d}" if n % 2 == 0 else ""
        plan = ("starter", "team", "enterprise")[n % 3]
        lines.append(f"C{n},Person.{n}@Example.com,{phone},{(n * 37) % 5000},USD,{day},"
                     f"{'yes' if n % 4 else 'no'},{plan},Name{n}")
    path.write_text("\n".join(lines) + "\n")
    return path


def config_for(url: str) -> AgentConfig:
    return parse_config({"database_url": url, "segments": SEGMENTS,
                         "accounts": [{"id": "bench", "platform": "simulator", "simulate": "meta"}]}, environ={})


def bench_size(report: Report, backend: str, url: str, size: int, directory: Path) -> float:
    """The figures at one size on a fresh database; returns the refresh's seconds per customer."""
    engine = migrated_engine(url)
    config = config_for(url)
    path = customer_file(directory, size)
    with timed() as bound:
        header, rows = read_rows(path, "csv")
        plan = plan_columns(header, crm_fields_used(config.segments))
        for row in rows:
            build_customer(row.cells, plan)
    with timed() as first:
        import_customer_list(engine, config, path, "csv", "customers", NOW)
    with timed() as again:
        import_customer_list(engine, config, path, "csv", "customers", NOW + timedelta(hours=1))
    with timed() as refresh:
        refresh_at_cycle_start(engine, config, NOW)
    with timed() as erase:
        forget(engine, config, "person.7@example.com", NOW, actor="bench")
    engine.dispose()
    where = f"{backend} N={size:,}"
    report.add(Figure(f"{where}: import", first(), "s", limit=bound(), target=4.0,
                      note="limit: read + normalize + hash alone"))
    report.add(Figure(f"{where}: re-import (unchanged)", again(), "s", limit=first(), target=1.0,
                      note="limit: the first import"))
    report.add(Figure(f"{where}: cycle refresh (5 segments)", refresh(), "s"))
    report.add(Figure(f"{where}: privacy forget (one person)", erase(), "s"))
    return refresh() / size


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    report = Report("CRM segments: customer-list import, re-import, cycle refresh, erasure")
    with tempfile.TemporaryDirectory() as files:
        for backend in args.backends:
            if backend == "postgresql" and not postgres_answers(args.pg_url):
                print(f"  postgresql: no server answers at {args.pg_url}; skipped (set --pg-url)")
                continue
            per_customer = []
            for size in args.sizes:  # a fresh database per size
                with tempfile.TemporaryDirectory() as directory:
                    database = sqlite_database(Path(directory)) if backend == "sqlite" \
                        else postgres_schema(args.pg_url)
                    with database as url:
                        per_customer.append(bench_size(report, backend, url, size, Path(files)))
            if len(per_customer) > 1:
                report.add(Figure(f"{backend}: refresh s/customer, largest N vs smallest", per_customer[-1], "s",
                                  limit=per_customer[0], target=LINEARITY_TOLERANCE))
    report.print()
    return report


if __name__ == "__main__":
    main()
