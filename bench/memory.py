"""Memory: peak RSS of a worker ingesting and evaluating realistic accounts, as many in flight as a cycle.

    nice -n 10 python bench/memory.py [--accounts 200 2000] [--in-flight 48] [--days 90] [--pg-url URL | --sqlite]
                                      [--campaigns 5] [--ad-sets-per-campaign 5] [--ads-per-ad-set 3]
                                      [--trace 25]

Each size runs in a fresh interpreter (`--child`), so one size's peak never shows in another's. The
child works on `--accounts` accounts the way `agent.cycle` does: a pool of threads as wide as the
cycle's accounts in flight (`ACCOUNT_WORKERS_PER_SLOT` x the default `max_concurrency_per_platform`,
summed over Google, Meta and LinkedIn: 4 x 4 x 3 = 48), each turn storing an account's entities and
its 90 days of ad-set and ad rows through `store.upsert_metrics` (one transaction), then reading
it back with `load_snapshot` and evaluating it with `policies.evaluate`. The config is parsed once
for all accounts, as a worker does. Accounts are 5 campaigns x 5 ad sets x 3 ads by default: 9,000
metric rows each. The child reports its peak RSS (`resource.getrusage`) and the RSS after imports.

Target: peak RSS at the largest size within 1.2x of the peak at the smallest: what a worker holds
is bounded by the accounts in flight, not by how many it has worked through.
`--trace N` also prints, for the largest size, the N places holding the most memory at the end of
the run that were not held after the first tenth of the accounts (tracemalloc; slow).

The database is PostgreSQL (a throw-away schema), as a deployment of this size runs: with 48
accounts writing at once, SQLite's single writer makes turns wait past its 30 s busy timeout on a
loaded machine (`--sqlite` runs it anyway).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, and keep
    # bench/ itself off the path (bench/requests.py would shadow the `requests` library)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle.concurrency import ACCOUNT_WORKERS_PER_SLOT
from agent.decisions.snapshots import load_snapshot
from agent.settings import ExecutionSettings
from agent.storage import store
from bench.common import (
    BENCH_DAY,
    DEFAULT_PG_URL,
    Figure,
    Report,
    migrated_engine,
    peak_rss_mb,
    postgres_schema,
    sqlite_database,
    synthetic_metrics,
    timed,
)
from bench.ingest import NOW
from connectors.records import Entity
from policies import evaluate

PLATFORMS = ("google", "meta", "linkedin")
TARGET = 1.2
POOL_WAIT_SECONDS = 600.0


def cycle_in_flight() -> int:
    """Accounts a cycle works on at once with the default settings (agent/cycle/concurrency.py)."""
    execution = ExecutionSettings()
    return sum(ACCOUNT_WORKERS_PER_SLOT * execution.concurrency_for(platform) for platform in PLATFORMS)


def accounts_config(url: str, count: int) -> AgentConfig:
    return parse_config({
        "database_url": url,
        "accounts": [{"id": f"mem{number}", "platform": "simulator", "simulate": "meta", "currency": "USD",
                      "timezone": "UTC", "monthly_budget": "1000000000"} for number in range(count)],
    }, environ={})


def account_entities(account_id: str, campaigns: int, ad_sets: int, ads: int) -> list[Entity]:
    """Meta-shaped: budgets on the ad sets, all active and out of learning."""
    entities: list[Entity] = []
    changed = BENCH_DAY - timedelta(days=120)
    for c in range(campaigns):
        campaign = f"{account_id}-c{c}"
        entities.append(Entity("meta", account_id, "campaign", campaign, None, f"Campaign {c}", "ACTIVE", "USD"))
        for s in range(ad_sets):
            index = c * ad_sets + s
            ad_set = f"{account_id}-s{index}"
            entities.append(Entity("meta", account_id, "ad_set", ad_set, campaign, f"Ad set {index}", "ACTIVE", "USD",
                                   daily_budget=Decimal(50 + (index * 37) % 160), last_changed=changed))
            entities.extend(Entity("meta", account_id, "ad", f"{ad_set}-a{a}", ad_set, f"Ad {a}", "ACTIVE", "USD")
                            for a in range(ads))
    return entities


@contextmanager
def database(pg_url: str | None) -> Iterator[str]:
    if pg_url:
        with postgres_schema(pg_url) as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as directory, sqlite_database(Path(directory)) as url:
        yield url


def child(accounts: int, in_flight: int, days: int, shape: tuple[int, int, int], trace: int,
          pg_url: str | None) -> dict[str, Any]:
    """Work through `accounts` accounts, `in_flight` at once; what this process used."""
    baseline = peak_rss_mb()
    clock = FixedClock.at_day(BENCH_DAY, hour=12)
    done = [0]
    early: list[tracemalloc.Snapshot] = []

    with database(pg_url) as url, timed() as elapsed:
        config = accounts_config(url, accounts)
        # the agent's pool (5 + 10 connections); a turn here is all database work, where a cycle's
        # turn mostly waits for its platform, so threads may queue for a connection longer than 30 s
        engine = migrated_engine(url, pool_timeout=POOL_WAIT_SECONDS)
        if trace:
            tracemalloc.start(12)

        def turn(number: int) -> tuple[int, int]:
            account = config.accounts[number]
            entities = account_entities(account.id, *shape)
            ad_sets = [e.entity_id for e in entities if e.level == "ad_set"]
            ads = [e.entity_id for e in entities if e.level == "ad"]
            with engine.begin() as connection:
                store.upsert_entities(connection, entities, NOW)
                written = store.upsert_metrics(connection, synthetic_metrics(account.id, ad_sets, days), NOW)
                written += store.upsert_metrics(connection, synthetic_metrics(account.id, ads, days, level="ad"), NOW)
            snapshot = load_snapshot(engine, account, BENCH_DAY, clock)
            proposals = len(evaluate(snapshot, config.policy_settings(account)))
            done[0] += 1
            if trace and done[0] == max(1, accounts // 10) and not early:
                early.append(tracemalloc.take_snapshot())
            return written, proposals

        with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="accounts") as pool:
            results = list(pool.map(turn, range(accounts)))
        gc.collect()
        top: list[str] = []
        if trace:
            late = tracemalloc.take_snapshot()
            tracemalloc.stop()
            for stat in late.compare_to(early[0], "traceback")[:trace]:
                top.append(f"{stat.size_diff / 1024:+.0f} KiB ({stat.count_diff:+d} blocks) "
                           + " <- ".join(f"{f.filename.split('/')[-1]}:{f.lineno}" for f in stat.traceback[-4:]))
        engine.dispose()
        seconds = elapsed()
    return {"accounts": accounts, "in_flight": in_flight, "rows": sum(r for r, _ in results),
            "proposals": sum(p for _, p in results), "baseline_mb": baseline, "peak_mb": peak_rss_mb(),
            "seconds": seconds, "top": top}


def measure(args: argparse.Namespace, accounts: int, trace: int) -> dict[str, Any]:
    """Run `child` in a fresh interpreter."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(accounts), "--in-flight",
               str(args.in_flight), "--days", str(args.days), "--campaigns", str(args.campaigns),
               "--ad-sets-per-campaign", str(args.ad_sets_per_campaign), "--ads-per-ad-set", str(args.ads_per_ad_set),
               "--trace", str(trace)] + (["--sqlite"] if args.sqlite else ["--pg-url", args.pg_url])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{accounts} accounts failed:\n{done.stderr[-3000:]}")
    output = done.stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--in-flight", type=int, default=cycle_in_flight(),
                        help="accounts worked on at once (default: the cycle's, %(default)s)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--campaigns", type=int, default=5)
    parser.add_argument("--ad-sets-per-campaign", type=int, default=5)
    parser.add_argument("--ads-per-ad-set", type=int, default=3)
    parser.add_argument("--trace", type=int, default=0, help="print the N largest growths (largest size only)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shape = (args.campaigns, args.ad_sets_per_campaign, args.ads_per_ad_set)
    if args.child is not None:
        print(json.dumps(child(args.child, args.in_flight, args.days, shape, args.trace,
                               None if args.sqlite else args.pg_url)))
        sys.exit(0)
    report = Report(f"memory: peak RSS of one worker, {args.in_flight} accounts in flight, "
                    f"accounts of {'x'.join(map(str, shape))} with {args.days} days, "
                    f"{'SQLite' if args.sqlite else 'PostgreSQL'}")
    results = {}
    sizes = sorted(args.accounts)
    for accounts in sizes:
        result = results[accounts] = measure(args, accounts, args.trace if accounts == sizes[-1] else 0)
        print(f"    {accounts:,} accounts ({int(result['rows']):,} rows, {int(result['proposals'])} proposals): "
              f"peak {result['peak_mb']:.0f} MiB (after imports {result['baseline_mb']:.0f} MiB), "
              f"{result['seconds']:.1f} s", flush=True)
        for line in result["top"]:
            print(f"      {line}")
    if len(sizes) > 1:
        small, large = results[sizes[0]], results[sizes[-1]]
        report.add(Figure(f"peak RSS {sizes[-1]:,} vs {sizes[0]:,} accounts", large["peak_mb"], "MiB",
                          limit=small["peak_mb"], target=TARGET))
        report.add(Figure("  above the after-imports RSS", large["peak_mb"] - large["baseline_mb"], "MiB",
                          limit=small["peak_mb"] - small["baseline_mb"], note="(informative)"))
    report.print()
    return report


if __name__ == "__main__":
    main()
