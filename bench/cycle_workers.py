"""The cycle on real Celery worker processes against the local Redis, realistic accounts, steady state.

    python bench/cycle_workers.py [--workers 4] [--accounts 30] [--latency-ms 100] [--concurrency 4]
        [--requests-per-second 10] [--database-url URL] [--broker redis://127.0.0.1:6379/9]

Accounts of 5 campaigns x 5 ad sets x 3 ads with 90 days of history, spread over Google Ads, Meta
and LinkedIn; each platform's fake in a process of its own (bench/cycle_world.py). `--workers`
worker processes (`celery -A bench.cycle_worker worker --pool=solo`: the agent's own task, with its
connectors pointed at the fakes) take one account per task; the coordinator (`run_cycle` with the
Celery account runner) sends them. A cold cycle first (the 90 days), then the clock moves on an hour
and the steady cycle is measured: wall time against the latency-and-quota bound, with the latency
the fakes actually answered in (time in flight / requests answered), not the nominal one:
bound = max over platforms of max(requests x latency / concurrency, requests / per-second quota).
Limit violations: requests over the concurrency cap and over the per-second quota, as the fakes
counted them. CPU: the workers' and the coordinator's process CPU during the steady cycle, per account.
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
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml
from sqlalchemy import Engine, text

from agent.bootstrap import account_runner
from agent.config import parse_config
from agent.cycle.run import run_cycle
from bench.common import Figure, Report
from bench.cycle import wire_requests
from bench.cycle_worker import FAKES_ENV
from bench.cycle_world import TOKENS, Harness, WorldSize, config_dict, harness

ROOT = Path(__file__).resolve().parents[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def _database_bytes(engine: Engine) -> int:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    return Path(str(engine.url.database)).stat().st_size


def measure(h: Harness, config_path: Path, raw: dict[str, Any], workers: list[subprocess.Popen[bytes]],
            report: Report, accounts: int, concurrency: int, per_second: float) -> dict[str, Any]:
    config = parse_config(raw, environ=TOKENS)
    runner = account_runner(config, config_path)
    started = time.perf_counter()
    cold = run_cycle(h.engine, config, h.connectors, h.clock, run_accounts=runner)
    cold_seconds = time.perf_counter() - started
    print(f"    cold cycle {cold_seconds:.1f} s, accounts {cold.accounts} (failed {cold.accounts_failed})", flush=True)
    database_bytes = _database_bytes(h.engine)
    h.clock.advance(timedelta(hours=1))
    for traffic in h.traffic.values():
        traffic.reset()
    cpu_before = {w.pid: _cpu_seconds(w.pid) for w in workers}
    own_before = time.process_time()
    started = time.perf_counter()
    steady = run_cycle(h.engine, config, h.connectors, h.clock, run_accounts=runner)
    seconds = time.perf_counter() - started
    own_cpu = time.process_time() - own_before
    worker_cpu = sum(_cpu_seconds(w.pid) - cpu_before[w.pid] for w in workers)
    stats = {platform: traffic.stats() for platform, traffic in h.traffic.items()}
    requests = {p: wire_requests(Counter(s["counts"])) for p, s in stats.items()}
    latency = {p: s["seconds_in_flight"] / max(1, s["answered"]) for p, s in stats.items()}
    bounds = {p: max(requests[p] * latency[p] / concurrency, requests[p] / per_second if per_second else 0.0)
              for p in stats}
    bound = max(bounds.values())
    print(f"    steady: accounts {steady.accounts} (failed {steady.accounts_failed}), execution "
          f"{dict(steady.execution)}, requests {requests}", flush=True)
    for error in (cold.errors + steady.errors)[:5]:
        print(f"    error: {error}")
    busiest = max(bounds, key=lambda p: bounds[p])
    report.add(Figure("steady cycle vs latency-and-quota bound", seconds, "s", limit=bound, target=1.3,
                      note=f"busiest {busiest}: {requests[busiest]} requests, answered in "
                           f"{1000 * latency[busiest]:.0f} ms"))
    report.add(Figure("limit violations (in flight over the cap, over the per-second quota)",
                      sum(s["violations"] + s["rate_violations"] for s in stats.values()), "",
                      note=" ".join(f"{p} {s['violations']}+{s['rate_violations']}, most in flight "
                                    f"{s['max_in_flight']}" for p, s in stats.items())))
    per_account_cpu = (worker_cpu + own_cpu) / accounts
    report.add(Figure("CPU per account (workers + coordinator) vs bound per account", per_account_cpu * 1000, "ms",
                      limit=1000 * bound / accounts, target=0.5,
                      note=f"workers {worker_cpu:.1f} s, coordinator {own_cpu:.1f} s"))
    report.add(Figure("peak RSS per worker, most", max(_peak_rss_mib(w.pid) for w in workers), "MiB"))
    report.add(Figure("accounts failed (cold + steady)", cold.accounts_failed + steady.accounts_failed, "",
                      note="target 0"))
    return {"seconds": seconds, "bound": bound, "requests": requests, "latency": latency, "worker_cpu": worker_cpu,
            "coordinator_cpu": own_cpu, "database_bytes": database_bytes, "cold_seconds": cold_seconds}


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
        config_path.write_text(yaml.safe_dump(raw))
        addresses = {p: getattr(t, "address", "") for p, t in h.traffic.items()}
        env = {**os.environ, **TOKENS, "PMA_CELERY_BROKER_URL": args.broker, "PMA_CELERY_QUEUE": queue,
               FAKES_ENV: json.dumps(addresses), "PYTHONPATH": str(ROOT)}
        os.environ.update({"PMA_CELERY_BROKER_URL": args.broker, "PMA_CELERY_QUEUE": queue})
        workers = start_workers(args.workers, env, Path(tmp))
        try:
            figures = measure(h, config_path, raw, workers, report, args.accounts, args.concurrency,
                              args.requests_per_second)
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
