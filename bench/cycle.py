"""A full cycle through the real connectors against fake platforms with a fixed latency per request.

    python bench/cycle.py [--accounts 200] [--latency-ms 100] [--concurrency 4] [--campaigns 2 ...]
    python bench/cycle.py --steady [--history-days 90] [--requests-per-second 10] [--database-url URL] [--skip-cold]

The three fake servers (`tests/fakes/`, real SDKs on the wire) answer every request after
`--latency-ms` and count a violation whenever more than `--concurrency` requests of one platform are
in flight; the agent is configured with the same `execution.max_concurrency_per_platform`. Accounts
are spread evenly over Google Ads, Meta and LinkedIn.

Lower bound: platforms are independent, so the cycle cannot finish before the busiest platform has
served its requests at full concurrency: max over platforms of ceil(requests / concurrency) x
latency, with the requests the cycle actually made (`bench/requests.py` checks that they are the
requests needed). Targets: cycle time <= 1.3x the bound, zero violations.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, and keep
    import sys  # bench/ itself off the path (bench/requests.py would shadow the `requests` library)

    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.cycle.run import run_cycle
from agent.cycle.summary import CycleSummary
from bench.common import Figure, Report, timed
from bench.cycle_steady import measure_steady
from bench.cycle_world import (  # noqa: F401  (re-exported: bench/requests.py and others import them from here)
    PLATFORMS,
    TODAY,
    FakePlatforms,
    Harness,
    PlatformProcess,
    TimedTraffic,
    WorldPerAccount,
    WorldSize,
    config_dict,
    config_for,
    harness,
    specs_for,
    wire_requests,
)


def lower_bound(counts: dict[str, int], concurrency: int, latency: float) -> float:
    """The busiest platform's requests served `concurrency` at a time, each taking `latency`."""
    return max((math.ceil(n / concurrency) * latency for n in counts.values()), default=0.0)


@dataclass
class CycleRun:
    """One cycle's summary and timing, split where `run_cycle` starts its end-of-cycle sweep (each
    account's own approved actions are executed right after its gating, inside the first part)."""

    summary: CycleSummary
    seconds: float
    pull_seconds: float  # pull + evaluate + gate + execute of every account (the parallel part)
    pull_counts: dict[str, int]  # requests per platform made before the sweep started
    counts: dict[str, Counter[str]]  # requests per platform and kind over the whole cycle
    cpu_seconds: float = 0.0  # CPU time of the agent's process (all its threads) during the cycle


def run_once(h: Harness) -> CycleRun:
    for traffic in h.traffic.values():
        traffic.reset()
    marks: dict[str, Any] = {}

    def progress(message: str) -> None:
        if message == "executing approved actions":
            marks["pull_seconds"] = elapsed()
            marks["pull_counts"] = {p: wire_requests(Counter(t.counts)) for p, t in h.traffic.items()}

    cpu_started = time.process_time()
    with timed() as elapsed:
        summary = run_cycle(h.engine, h.config, h.connectors, h.clock, progress=progress)
    cpu_seconds = time.process_time() - cpu_started
    counts = h.counts()
    totals = {p: wire_requests(c) for p, c in counts.items()}
    return CycleRun(summary, elapsed(), marks.get("pull_seconds", elapsed()), marks.get("pull_counts", totals),
                    counts, cpu_seconds)


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=4, help="per platform: agent limit = server limit")
    parser.add_argument("--campaigns", type=int, default=2)
    parser.add_argument("--ad-sets-per-campaign", type=int, default=2)
    parser.add_argument("--ads-per-ad-set", type=int, default=2)
    parser.add_argument("--fakes", choices=("process", "inline"), default="process",
                        help="each platform's fake in a process of its own (default), or in the agent's process")
    parser.add_argument("--steady", action="store_true",
                        help="measure the hourly and the day's first cycle after a cold one (bench/cycle_steady.py)")
    parser.add_argument("--history-days", type=int, default=28, help="with --steady: days the cold cycle pulls")
    parser.add_argument("--requests-per-second", type=float, default=0.0, help="with --steady: each platform's quota")
    parser.add_argument("--database-url", default="", help="with --steady: PostgreSQL URL (default: SQLite)")
    parser.add_argument("--skip-cold", action="store_true",
                        help="with --steady: measure on the history an earlier run left in --database-url")
    args = parser.parse_args(argv)
    if args.steady:
        return steady(args)
    size = WorldSize(args.accounts, args.campaigns, args.ad_sets_per_campaign, args.ads_per_ad_set)
    latency = args.latency_ms / 1000
    report = Report(f"cycle: {args.accounts} accounts, {args.latency_ms:g} ms per request, "
                    f"{args.concurrency} in flight per platform")
    with harness(size, latency=latency, concurrency=args.concurrency, platform_processes=args.fakes == "process") as h:
        run = run_once(h)
        summary, seconds = run.summary, run.seconds
        counts = {platform: wire_requests(c) for platform, c in run.counts.items()}
        bound = lower_bound(counts, args.concurrency, latency)
        execute_counts = {p: counts[p] - run.pull_counts.get(p, 0) for p in counts}
        print(f"    accounts {summary.accounts} (failed {summary.accounts_failed}), rows {summary.metric_rows_upserted:,},"
              f" execution {dict(summary.execution)}, requests {counts}", flush=True)
        for error in summary.errors[:5]:
            print(f"    error: {error}")
        report.add(Figure("full cycle vs max(requests/concurrency) x latency", seconds, "s", limit=bound,
                          target=1.3))
        report.add(Figure("  accounts: pull, evaluate, gate, execute", run.pull_seconds, "s",
                          limit=lower_bound(run.pull_counts, args.concurrency, latency), target=1.3,
                          note=f"requests {run.pull_counts}"))
        report.add(Figure("  end-of-cycle sweep + notifications", seconds - run.pull_seconds, "s",
                          limit=lower_bound(execute_counts, args.concurrency, latency), target=1.3,
                          note=f"requests {execute_counts}"))
        for platform, traffic in h.traffic.items():
            report.add(Figure(f"{platform}: requests in flight, most at once", traffic.max_in_flight, "",
                              limit=args.concurrency, target=1.0,
                              note=f"violations {traffic.violations}, requests {counts[platform]:,}"))
        # The platform side, which the bound does not count: a fake slower than its latency, or
        # starved of CPU, shows here rather than as the agent's time.
        for platform, traffic in h.traffic.items():
            platform_cpu = getattr(traffic, "cpu_seconds", None)
            report.add(Figure(f"{platform}: server time per request vs latency",
                              1000 * traffic.seconds_in_flight / max(1, counts[platform]), "ms",
                              limit=args.latency_ms, note="" if platform_cpu is None else
                              f"platform process CPU {platform_cpu:.1f} s"))
        report.add(Figure("agent process CPU time during the cycle", run.cpu_seconds, "s", limit=seconds,
                          note="all threads; 1.0 would be one CPU busy the whole cycle"))
        report.add(Figure("violations counted by the fake servers", sum(t.violations for t in h.traffic.values()),
                          "", limit=None, note="target 0"))
        report.add(Figure("accounts failed", summary.accounts_failed, "", note="target 0"))
    report.print()
    return report


def steady(args: argparse.Namespace) -> Report:
    """`--steady`: accounts in threads, as `run` does, measured in steady state."""
    size = WorldSize(args.accounts, args.campaigns, args.ad_sets_per_campaign, args.ads_per_ad_set,
                     history_days=args.history_days + 2, initial_history_days=args.history_days,
                     requests_per_second=args.requests_per_second)
    report = Report(f"steady cycle in process: {args.accounts} accounts of {args.campaigns}x"
                    f"{args.ad_sets_per_campaign}x{args.ads_per_ad_set}, {args.history_days} days, "
                    f"{args.latency_ms:g} ms, {args.concurrency} in flight and "
                    f"{args.requests_per_second:g}/s per platform")
    with harness(size, latency=args.latency_ms / 1000, concurrency=args.concurrency,
                 platform_processes=args.fakes == "process", database_url=args.database_url or None) as h:
        raw = config_dict(h.config.database_url.get_secret_value(), h.specs, size, args.concurrency)
        figures = measure_steady(h, raw, report, accounts=args.accounts, concurrency=args.concurrency,
                                 per_second=args.requests_per_second, skip_cold=args.skip_cold)
    print(f"    inputs for projections: {json.dumps(figures, default=str)}")
    report.print()
    return report


if __name__ == "__main__":
    main()
