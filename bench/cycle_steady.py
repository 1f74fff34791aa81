"""The steady-state measurement shared by bench/cycle.py (`--steady`, accounts in threads) and
bench/cycle_workers.py (Celery workers): a cold cycle pulls the history, then two cycles an hour
apart are measured against the latency-and-quota bound of the requests each made:

- the hourly cycle (13:00): a later cycle of every account's local day, which re-reads only the
  last `lookback_recent_days` of the look-back window;
- the day's first cycle (14:00, with `lookback_recent_days` set to `lookback_days`): what each
  account's first cycle of its local day does, the whole look-back window re-read.

bound = max over platforms of max(requests x latency / concurrency, requests / per-second quota),
with the latency the fakes actually answered in (time in flight / requests answered), not the
nominal one. Limit violations: requests over the concurrency cap and over the per-second quota,
as the fakes counted them. CPU: the agent's process (and the workers') during the cycle.

Also, per measured cycle, the highest usage Meta's fake reported in its headers (calls per ad account
in a compressed hour, bench/cycle_world.py) and the calls it refused for usage; and each platform's
requests of a day (the day's first cycle and 23 hourly ones) against its daily quota, if it has one.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, func, select, text

from agent.bootstrap import account_runner
from agent.config import parse_config
from agent.cycle.run import run_cycle
from agent.cycle.summary import CycleSummary
from agent.storage.models import DailyMetric
from bench.common import Figure, Report
from bench.cycle_world import META_TIER, META_USAGE_WINDOW, TOKENS, Harness, meta_usage_for, wire_requests

# Requests a platform allows a day, checked as the day's total (a day is not waited out in a cycle).
# Google Ads, a developer token with Basic access: 15,000 operations a day (a sliding 24 hours); a query
# is one operation, paged or streamed, a mutate one per object changed, so counting a request as one
# is a lower bound on days with changes (https://developers.google.com/google-ads/api/docs/access-levels,
# https://developers.google.com/google-ads/api/docs/rate-sheet).
# LinkedIn: application and member limits a day, reset at midnight UTC, but "standard rate limits are
# not published" (only the app's Analytics tab shows them):
# https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits
# Meta: none a day; its limits are per ad account and hour (tests/fakes/meta_usage.py).
DAILY_QUOTAS: dict[str, int] = {"google_ads": 15_000}
DAILY_QUOTA_NOTES = {"google_ads": "Basic access; a mutate is one operation per object changed",
                     "linkedin": "daily limits exist, not published", "meta": "no daily quota (hourly, per ad account)"}
HOURLY_CYCLES_A_DAY = 23  # after the day's first


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_bytes(engine: Engine) -> int:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    return Path(str(engine.url.database)).stat().st_size


@dataclass
class Measured:
    """One measured cycle: its time, the bound of the requests it made, and what it cost."""

    summary: CycleSummary
    seconds: float
    bound: float
    busiest: str
    requests: dict[str, int]
    latency: dict[str, float]
    violations: int
    violations_note: str
    cpu: float  # the agent's: this process, plus the workers'
    peak_usage: dict[str, float]  # the highest usage percent each platform's fake reported (0: not modelled)
    refused: dict[str, int]  # calls each platform's fake refused for usage

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "bound": self.bound, "requests": self.requests, "latency": self.latency,
                "cpu": self.cpu}


def _cycle(h: Harness, raw: dict[str, Any], config_path: Path | None) -> CycleSummary:
    """One cycle with the config `raw` (written to `config_path` first: the workers read it again, its
    digest changed)."""
    if config_path is not None:
        config_path.write_text(yaml.safe_dump(raw))
    config = parse_config(raw, environ=TOKENS)
    return run_cycle(h.engine, config, h.connectors, h.clock, run_accounts=account_runner(config, config_path))


def _measure(h: Harness, raw: dict[str, Any], config_path: Path | None, worker_pids: Sequence[int],
             concurrency: int, per_second: float) -> Measured:
    for traffic in h.traffic.values():
        traffic.reset()
    before = {pid: cpu_seconds(pid) for pid in worker_pids}
    own_before = time.process_time()
    started = time.perf_counter()
    summary = _cycle(h, raw, config_path)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - own_before + sum(cpu_seconds(pid) - before[pid] for pid in worker_pids)
    stats = {platform: traffic.stats() for platform, traffic in h.traffic.items()}
    requests = {p: wire_requests(Counter(s["counts"])) for p, s in stats.items()}
    latency = {p: s["seconds_in_flight"] / max(1, s["answered"]) for p, s in stats.items()}
    bounds = {p: max(requests[p] * latency[p] / concurrency, requests[p] / per_second if per_second else 0.0)
              for p in stats}
    busiest = max(bounds, key=lambda p: bounds[p])
    note = " ".join(f"{p} {s['violations']}+{s['rate_violations']}, most in flight {s['max_in_flight']}"
                    for p, s in stats.items())
    busy = stats[busiest]
    if busy.get("start_times"):  # where the busiest platform's requests went: first, last, and by tenth of the cycle
        note += (f"; {busiest}'s requests: first {busy['start_times'][0] - started:.1f} s after the start, last "
                 f"answered {started + seconds - busy['last_end']:.1f} s before the end")
        if per_second and seconds > 0:
            tenths = [0] * 10
            for moment in busy["start_times"]:
                tenths[min(9, max(0, int(10 * (moment - started) / seconds)))] += 1
            note += "; its starts per second by tenth of the cycle: " + " ".join(
                f"{10 * n / seconds:.1f}" for n in tenths) + f" (quota {per_second:g})"
    return Measured(summary, seconds, bounds[busiest], busiest, requests, latency,
                    sum(s["violations"] + s["rate_violations"] for s in stats.values()), note, cpu,
                    {p: float(s.get("peak_usage", 0.0)) for p, s in stats.items()},
                    {p: sum(s.get("refused", {}).values()) for p, s in stats.items()})


def _stored_accounts(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count(func.distinct(DailyMetric.account_id)))).scalar_one())


def measure_steady(h: Harness, raw: dict[str, Any], report: Report, *, accounts: int, concurrency: int,
                   per_second: float, config_path: Path | None = None, worker_pids: Sequence[int] = (),
                   skip_cold: bool = False, cpu_label: str = "agent process",
                   progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Cold cycle (or, with `skip_cold`, the history an earlier run of the same size left in the
    database), then the hourly and the day's-first cycles, measured; figures added to `report`."""
    cold_seconds = 0.0
    failed = 0
    if skip_cold:
        stored = _stored_accounts(h.engine)
        if stored != accounts:
            raise SystemExit(f"--skip-cold: the database holds history of {stored} accounts, not {accounts}; "
                             "run once without --skip-cold")
    else:
        started = time.perf_counter()
        cold = _cycle(h, raw, config_path)
        cold_seconds = time.perf_counter() - started
        failed += cold.accounts_failed
        progress(f"    cold cycle {cold_seconds:.1f} s, accounts {cold.accounts} (failed {cold.accounts_failed})")
    size_bytes = database_bytes(h.engine)
    h.clock.advance(timedelta(hours=1))
    hourly = _measure(h, raw, config_path, worker_pids, concurrency, per_second)
    h.clock.advance(timedelta(hours=1))
    full = _measure(h, {**raw, "lookback_recent_days": raw.get("lookback_days", 28)}, config_path, worker_pids,
                    concurrency, per_second)
    for name, run in (("hourly", hourly), ("day's first", full)):
        failed += run.summary.accounts_failed
        progress(f"    {name}: accounts {run.summary.accounts} (failed {run.summary.accounts_failed}), "
                 f"execution {dict(run.summary.execution)}, requests {run.requests}")
        for error in run.summary.errors[:3]:
            progress(f"    error: {error}")
    for label, run in (("steady cycle vs latency-and-quota bound", hourly),
                       ("day's first cycle (whole look-back re-read) vs its bound", full)):
        report.add(Figure(label, run.seconds, "s", limit=run.bound, target=1.3,
                          note=f"busiest {run.busiest}: {run.requests[run.busiest]} requests, answered in "
                               f"{1000 * run.latency[run.busiest]:.0f} ms"))
    report.add(Figure("limit violations (in flight over the cap, over the per-second quota)",
                      hourly.violations + full.violations, "",
                      note=f"hourly: {hourly.violations_note}; day's first: {full.violations_note}"))
    meta_ads = next((s.campaigns * s.ad_sets_per_campaign * s.ads_per_ad_set for s in h.specs
                     if s.platform == "meta"), 0)
    allowance = meta_usage_for(meta_ads).account_allowance
    for name, run in (("hourly", hourly), ("day's first", full)):
        report.add(Figure(f"Meta usage reported, {name} cycle (highest, per ad account)",
                          run.peak_usage.get("meta", 0.0), "%", limit=100.0, target=0.75,
                          note=f"calls refused for usage {run.refused.get('meta', 0)}; {META_TIER} tier, "
                               f"{allowance:.1f} calls per {META_USAGE_WINDOW:g} s window (the hour compressed, "
                               f"{meta_ads} active ads); the connector slows down past 75%"))
    for platform in hourly.requests:
        day = full.requests[platform] + HOURLY_CYCLES_A_DAY * hourly.requests[platform]
        quota = DAILY_QUOTAS.get(platform)
        report.add(Figure(f"{platform}: requests a day (day's first + {HOURLY_CYCLES_A_DAY} hourly) vs daily quota",
                          day, "", limit=quota, target=1.0 if quota else None,
                          note=f"{full.requests[platform]} + {HOURLY_CYCLES_A_DAY} x {hourly.requests[platform]}; "
                               f"{DAILY_QUOTA_NOTES.get(platform, '')}"))
    for label, run in (("CPU per account, hourly", hourly), ("CPU per account, day's first", full)):
        report.add(Figure(f"{label} ({cpu_label}) vs bound per account", run.cpu / accounts * 1000, "ms",
                          limit=1000 * run.bound / accounts, target=0.5, note=f"{run.cpu:.1f} s in all"))
    report.add(Figure("accounts failed (cold + steady)", failed, "", note="target 0"))
    return {"hourly": hourly.as_dict(), "first_of_day": full.as_dict(), "database_bytes": size_bytes,
            "cold_seconds": cold_seconds}
