"""Evaluation: every policy (`policies.evaluate`) over one big account, against reading that
account's snapshot from the database.

    python bench/evaluate.py [--ad-sets 2000 10000] [--days 90] [--backend sqlite|postgresql]

The default sizes are scaled down from the design's 10k -> 50k ad sets (same 5x step) so that
`make bench` stays within its ~15 minutes: writing and reading 4.5M rows alone takes minutes.
`--ad-sets 10000 50000` runs the full size.

The data is synthetic and goes straight into the store (entities through `store.upsert_entities`,
metrics through the raw bulk path of `bench/ingest.py`, which is the fast part of making it). Then
`agent.snapshots.load_snapshot` (what a cycle reads) and `policies.evaluate` are timed separately.
Reading is the natural bound: a policy pass that costs more than reading its input is doing more
than looking at each row a few times. Targets: evaluate / read <= 1.0, and evaluate time at the
largest size / at the smallest <= 1.1 x the size ratio (5.5 for 10k -> 50k).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from contextlib import AbstractContextManager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, and keep
    import sys  # bench/ itself off the path (bench/requests.py would shadow the `requests` library)

    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.config import AccountConfig, AgentConfig, parse_config
from agent.decisions.snapshots import SNAPSHOT_HISTORY_DAYS, load_snapshot
from agent.storage import store
from bench.common import (
    BENCH_DAY,
    DEFAULT_PG_URL,
    Figure,
    Report,
    ad_set_ids,
    migrated_engine,
    postgres_answers,
    postgres_schema,
    sqlite_database,
    synthetic_metrics,
    timed,
)
from bench.ingest import NOW, raw_postgres, raw_sqlite
from connectors.records import Entity
from policies import evaluate

AD_SETS_PER_CAMPAIGN = 10


def bench_config(url: str, account_id: str) -> AgentConfig:
    return parse_config({
        "database_url": url,
        "accounts": [{"id": account_id, "platform": "simulator", "simulate": "meta", "currency": "USD",
                      "timezone": "UTC", "monthly_budget": "1000000000"}],
    }, environ={})


def entities_for(account_id: str, ad_sets: list[str]) -> list[Entity]:
    """Campaigns of ten ad sets each; Meta-style budgets on the ad sets, all active, out of learning."""
    campaigns = [Entity("meta", account_id, "campaign", f"{account_id}-c{i}", None, f"Campaign {i}", "ACTIVE",
                        "USD") for i in range((len(ad_sets) + AD_SETS_PER_CAMPAIGN - 1) // AD_SETS_PER_CAMPAIGN)]
    ad_set_entities = [
        Entity("meta", account_id, "ad_set", entity_id, f"{account_id}-c{index // AD_SETS_PER_CAMPAIGN}",
               f"Ad set {index}", "ACTIVE", "USD", daily_budget=Decimal(50 + (index * 37) % 160),
               last_changed=BENCH_DAY - timedelta(days=120))
        for index, entity_id in enumerate(ad_sets)
    ]
    return campaigns + ad_set_entities


def fill(engine: Engine, account_id: str, ad_sets: int, days: int) -> int:
    """Write one account of `ad_sets` x `days` rows; returns the metric row count."""
    ids = ad_set_ids(account_id, ad_sets)
    with engine.begin() as connection:
        store.upsert_entities(connection, entities_for(account_id, ids), NOW)
    raw = raw_postgres if engine.dialect.name == "postgresql" else raw_sqlite
    return raw(engine, synthetic_metrics(account_id, ids, days))


def bench_size(report: Report, engine: Engine, ad_sets: int, days: int) -> tuple[float, float]:
    """(read seconds, evaluate seconds) for one account of `ad_sets` ad sets."""
    account_id = f"eval{ad_sets}"
    config = bench_config(str(engine.url), account_id)
    account: AccountConfig = config.accounts[0]
    with timed() as filling:
        rows = fill(engine, account_id, ad_sets, days)
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
    print(f"    {ad_sets:,} ad sets x {days} days = {rows:,} rows written in {filling():.1f} s", flush=True)
    clock = FixedClock.at_day(BENCH_DAY, hour=12)
    gc.collect()
    with timed() as reading:
        snapshot = load_snapshot(engine, account, BENCH_DAY, clock)
    settings = config.policy_settings(account)
    with timed() as evaluating:
        proposals = evaluate(snapshot, settings)
    kinds: dict[str, int] = {}
    for proposal in proposals:
        kinds[proposal.kind] = kinds.get(proposal.kind, 0) + 1
    print(f"    read {reading():.2f} s, evaluate {evaluating():.2f} s, proposals {kinds}", flush=True)
    report.add(Figure(f"{ad_sets:,} ad sets x {days} d: evaluate vs read", evaluating(), "s", limit=reading(),
                      target=1.0))
    del snapshot, proposals
    gc.collect()
    return reading(), evaluating()


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ad-sets", type=int, nargs="+", default=[2_000, 10_000])
    parser.add_argument("--days", type=int, default=SNAPSHOT_HISTORY_DAYS)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    report = Report(f"evaluation: policies.evaluate vs load_snapshot ({args.backend})")
    with tempfile.TemporaryDirectory() as directory:
        context: AbstractContextManager[str]
        if args.backend == "sqlite":
            context = sqlite_database(Path(directory))
        elif postgres_answers(args.pg_url):
            context = postgres_schema(args.pg_url)
        else:
            raise SystemExit(f"no PostgreSQL server answers at {args.pg_url}")
        with context as url:
            engine = migrated_engine(url)
            try:
                times = {size: bench_size(report, engine, size, args.days) for size in args.ad_sets}
            finally:
                engine.dispose()
    sizes = sorted(times)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        growth = large / small
        report.add(Figure(f"evaluate time {large:,} vs {small:,} ad sets", times[large][1], "s",
                          limit=times[small][1], target=1.1 * growth,
                          note=f"(size ratio {growth:g}; read grew {times[large][0] / times[small][0]:.2f}x)"))
    report.print()
    return report


if __name__ == "__main__":
    main()
