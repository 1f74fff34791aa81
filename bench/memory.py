"""Memory: peak RSS of ingestion + evaluation over 10k and over 1M metric rows, each in its own process.

    python bench/memory.py [--rows 10000 1000000] [--rows-per-account 10000]

The rows arrive the way a cycle gets them: account by account (`--rows-per-account`, 100 ad sets x
100 days by default), each account upserted from a lazy stream through `store.upsert_metrics`, then
read back with `load_snapshot` and evaluated with `policies.evaluate`. A child process per size
reports its peak RSS (`resource.getrusage`), and the RSS it had after imports, before any data.
Target: peak at the largest size <= 1.5x the peak at the smallest (work is streamed and bounded
by the account, not by the total).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, and keep
    # bench/ itself off the path (bench/requests.py would shadow the `requests` library)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.clock import FixedClock
from agent.decisions.snapshots import load_snapshot
from agent.storage import store
from bench.common import (
    BENCH_DAY,
    Figure,
    Report,
    ad_set_ids,
    migrated_engine,
    peak_rss_mb,
    sqlite_database,
    synthetic_metrics,
    timed,
)
from bench.evaluate import bench_config, entities_for
from bench.ingest import NOW
from policies import evaluate

DAYS = 100


def child(rows: int, rows_per_account: int) -> dict[str, float]:
    """Ingest and evaluate `rows` rows, account by account; what this process used."""
    baseline = peak_rss_mb()
    accounts = max(1, rows // rows_per_account)
    ad_sets = max(1, rows_per_account // DAYS)
    clock = FixedClock.at_day(BENCH_DAY, hour=12)
    written = proposals = 0
    with tempfile.TemporaryDirectory() as directory, sqlite_database(Path(directory)) as url, timed() as elapsed:
        engine = migrated_engine(url)
        for number in range(accounts):
            account_id = f"mem{number}"
            config = bench_config(url, account_id)
            ids = ad_set_ids(account_id, ad_sets)
            with engine.begin() as connection:
                store.upsert_entities(connection, entities_for(account_id, ids), NOW)
                written += store.upsert_metrics(connection, synthetic_metrics(account_id, ids, DAYS), NOW)
            snapshot = load_snapshot(engine, config.accounts[0], BENCH_DAY, clock)
            proposals += len(evaluate(snapshot, config.policy_settings(config.accounts[0])))
            del snapshot
            gc.collect()
        engine.dispose()
        seconds = elapsed()
    return {"rows": written, "accounts": accounts, "proposals": proposals, "baseline_mb": baseline,
            "peak_mb": peak_rss_mb(), "seconds": seconds}


def measure(rows: int, rows_per_account: int) -> dict[str, float]:
    """Run `child` in a fresh interpreter, so one size's peak never shows in another's."""
    output = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(rows), "--rows-per-account",
         str(rows_per_account)], check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--rows-per-account", type=int, default=10_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.rows_per_account)))
        sys.exit(0)
    report = Report("memory: peak RSS of ingestion + evaluation, one process per size")
    results = {}
    for rows in args.rows:
        result = results[rows] = measure(rows, args.rows_per_account)
        print(f"    {int(result['rows']):,} rows in {int(result['accounts'])} accounts: peak {result['peak_mb']:.0f} MiB"
              f" (after imports {result['baseline_mb']:.0f} MiB), {result['seconds']:.1f} s", flush=True)
    sizes = sorted(results)
    if len(sizes) > 1:
        small, large = results[sizes[0]], results[sizes[-1]]
        report.add(Figure(f"peak RSS {sizes[-1]:,} vs {sizes[0]:,} rows", large["peak_mb"], "MiB",
                          limit=small["peak_mb"], target=1.5))
        report.add(Figure("  above the after-imports RSS", large["peak_mb"] - large["baseline_mb"], "MiB",
                          limit=small["peak_mb"] - small["baseline_mb"], note="(informative)"))
    report.print()
    return report


if __name__ == "__main__":
    main()
