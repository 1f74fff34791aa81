"""Per-task costs of a Celery worker and of a steady hourly cycle, before and after, in one run.

    python bench/worker_costs.py [--accounts 200 2000] [--cycle-accounts 6]

- config: what a task paid to parse the whole config file (before: every task), against what it
  pays now (the file's SHA-256 and a look-up: `agent.runtime.celery_app.worker_setup`);
- copywriter: the agent's CPU in the second hourly cycle of the same day on simulated accounts
  (2 x 3 x 3 each, every ad set below the median CTR triggering), with copy drafted at most once
  per 24 hours against `draft_period_hours: 0` (every cycle, as before); the text features'
  cache is emptied before each run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    import sys

    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from agent.bootstrap import build_connectors
from agent.clock import FixedClock
from agent.config import load_config, parse_config
from agent.copywriter import features
from agent.cycle.run import run_cycle
from agent.runtime.celery_app import worker_setup
from agent.storage import db
from agent.storage.store import make_engine
from bench.common import Figure, Report


def _config(directory: Path, accounts: int, **defaults: Any) -> dict[str, Any]:
    return {"database_url": f"sqlite:///{directory / 'agent.db'}",
            "simulator": {"seed": 7, "history_days": 30, "campaigns_per_account": 2, "ad_sets_per_campaign": 3,
                          "ads_per_ad_set": 3},
            "defaults": defaults,
            "accounts": [{"id": f"acct-{n}", "platform": "simulator", "simulate": ("meta", "google_ads")[n % 2],
                          "currency": "EUR", "timezone": "Europe/Berlin"} for n in range(accounts)]}


def config_costs(report: Report, sizes: list[int]) -> None:
    for size in sizes:
        with tempfile.TemporaryDirectory() as name:
            path = Path(name) / "agent.yaml"
            path.write_text(yaml.safe_dump(_config(Path(name), size)))
            started = time.perf_counter()
            load_config(path)
            parse = time.perf_counter() - started
            setup = worker_setup(path)
            started = time.perf_counter()
            for _ in range(20):
                worker_setup(path)
            cached = (time.perf_counter() - started) / 20
            setup.close()
            report.add(Figure(f"config per task, {size} accounts: now vs parsing it (before)", cached, "s",
                              limit=parse, note=f"parse {parse:.3f} s"))


def copywriter_cpu(report: Report, accounts: int) -> None:
    seconds = {}
    for period in (0, 24):
        with tempfile.TemporaryDirectory() as name:
            raw = _config(Path(name), accounts, copywriter={"low_ctr_ratio": 0.99, "low_ctr_min_impressions": 0,
                                                            "draft_period_hours": period})
            config = parse_config(raw, environ={})
            engine = make_engine(raw["database_url"])
            db.upgrade(engine)
            clock = FixedClock.at_day(date(2026, 6, 1), hour=9)
            connectors = build_connectors(config, clock, engine)
            features._feature_tuple.cache_clear()
            run_cycle(engine, config, connectors, clock, dry_run=True)
            clock.advance(timedelta(hours=1))
            started = time.process_time()
            run_cycle(engine, config, connectors, clock, dry_run=True)
            seconds[period] = time.process_time() - started
            engine.dispose()
    report.add(Figure(f"second hourly cycle, {accounts} accounts: CPU with copy once a day vs every cycle",
                      seconds[24], "s", limit=seconds[0], target=1.0))


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--cycle-accounts", type=int, default=6)
    args = parser.parse_args(argv)
    report = Report("worker and steady-cycle costs")
    config_costs(report, args.accounts)
    copywriter_cpu(report, args.cycle_accounts)
    report.print()
    return report


if __name__ == "__main__":
    main()
