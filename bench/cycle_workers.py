"""The cycle on real Celery worker processes against the local Redis, realistic accounts, steady state.

    python bench/cycle_workers.py [--workers 4] [--accounts 30] [--latency-ms 100] [--concurrency 4]
        [--requests-per-second 10] [--database-url URL] [--broker redis://127.0.0.1:6379/9] [--skip-cold]

Accounts of 5 campaigns x 5 ad sets x 3 ads with 90 days of history, spread over Google Ads, Meta
and LinkedIn; each platform's fake in a process of its own (bench/cycle_world.py). `--workers`
worker processes (`celery -A bench.cycle_worker worker --pool=solo`: the agent's own task, with its
connectors pointed at the fakes) take one account per task; the coordinator (`run_cycle` with the
Celery account runner) sends them. A cold cycle first (the 90 days), then an hourly cycle and a
day's first cycle are measured against the latency-and-quota bound (bench/cycle_steady.py). CPU:
the workers' and the coordinator's process CPU during each cycle, per account.

`--skip-cold` measures on the history an earlier run left in the PostgreSQL database of
`--database-url` (same `--accounts` and sizes: the fakes rebuild the same seeded world), so a large
portfolio's cold pull is paid once for several runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.common import Figure, Report
from bench.cycle_steady import measure_steady
from bench.cycle_worker import FAKES_ENV
from bench.cycle_world import TOKENS, WorldSize, config_dict, harness

ROOT = Path(__file__).resolve().parents[1]


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_workers(n: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for index in range(n):
        log = (logs / f"worker-{index}.log").open("w")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "bench.cycle_worker", "worker", "--pool=solo", "--concurrency=1",
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"bench{index}@%h"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 180
    for index, worker in enumerate(workers):
        while "ready." not in (logs / f"worker-{index}.log").read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((logs / f"worker-{index}.log").read_text()[-2000:])
            time.sleep(0.2)
    return workers


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=30)
    parser.add_argument("--campaigns", type=int, default=5)
    parser.add_argument("--ad-sets-per-campaign", type=int, default=5)
    parser.add_argument("--ads-per-ad-set", type=int, default=3)
    parser.add_argument("--history-days", type=int, default=90)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests-per-second", type=float, default=10.0)
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--skip-cold", action="store_true",
                        help="measure on the history an earlier run of the same size left in --database-url")
    args = parser.parse_args(argv)
    size = WorldSize(args.accounts, args.campaigns, args.ad_sets_per_campaign, args.ads_per_ad_set,
                     history_days=args.history_days + 2, initial_history_days=args.history_days,
                     requests_per_second=args.requests_per_second)
    report = Report(f"cycle on {args.workers} Celery workers: {args.accounts} accounts of {args.campaigns}x"
                    f"{args.ad_sets_per_campaign}x{args.ads_per_ad_set}, {args.history_days} days, "
                    f"{args.latency_ms:g} ms, {args.concurrency} in flight and {args.requests_per_second:g}/s per platform")
    queue = f"pma-bench-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory() as tmp, harness(
            size, latency=args.latency_ms / 1000, concurrency=args.concurrency, platform_processes=True,
            database_url=args.database_url or None) as h:
        raw = config_dict(h.config.database_url.get_secret_value(), h.specs, size, args.concurrency)
        raw["execution"].update({"mode": "celery", "celery_broker_url": args.broker, "celery_queue": queue,
                                 "account_timeout_seconds": 1800})
        config_path = Path(tmp) / "bench.yaml"
        addresses = {p: getattr(t, "address", "") for p, t in h.traffic.items()}
        env = {**os.environ, **TOKENS, "PMA_CELERY_BROKER_URL": args.broker, "PMA_CELERY_QUEUE": queue,
               FAKES_ENV: json.dumps(addresses), "PYTHONPATH": str(ROOT)}
        os.environ.update({"PMA_CELERY_BROKER_URL": args.broker, "PMA_CELERY_QUEUE": queue})
        workers = start_workers(args.workers, env, Path(tmp))
        try:
            figures = measure_steady(h, raw, report, accounts=args.accounts, concurrency=args.concurrency,
                                     per_second=args.requests_per_second, config_path=config_path,
                                     worker_pids=[w.pid for w in workers], skip_cold=args.skip_cold,
                                     cpu_label="workers + coordinator")
            report.add(Figure("peak RSS per worker, most", max(_peak_rss_mib(w.pid) for w in workers), "MiB"))
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=60)
    print(f"    inputs for projections: {json.dumps(figures, default=str)}")
    report.print()
    return report


if __name__ == "__main__":
    main()
