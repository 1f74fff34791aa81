"""Decision quality of the policies on many simulated worlds: prints the figures, asserts nothing.

    python bench/decision_quality.py [--seeds 12] [--days 90] [--jobs 2] [--policy NAME ...]
                                     [--set POLICY.KEY=VALUE ...] [--cycle [--no-monthly-budgets]]

`--jobs N` runs N seeds at a time (processes; `--workers` is the same). `--seed-dir DIR` keeps each
seed's report as it finishes and reuses those already there, so a run of hours can stop and resume
(the file names carry the run's settings, not the code's version: use a new DIR after a code change). The figures of issue 19
(surplus gain's median, 90% interval and minimum, false pauses per 50 ad sets over all seeds,
clear losers' median days to pause, the ideal test, budget churn) are computed in
bench/decision_figures.py and printed last.

`--cycle` runs the agent arm through the daemon's own cycle (gate, guardrails, cooldowns,
executor: agent/backtesting/cycle_arm.py), every kind on auto; `--no-monthly-budgets` then leaves the
accounts without a monthly budget (pacing silent), to compare both.

For each seed it runs `agent.backtest.run_backtest` (the demo accounts: 4 platforms/currencies,
36 ad sets) and reports, against the targets of the design:
- false pauses: pauses of ad sets whose true ROAS was >= target on the day of the pause, per
  ad set that was above target on day 7 (target <= 5%), and per 50 ad sets (target <= 1);
- speed on clear losers: ad sets whose true ROAS on day 7 was <= half the target, paused within
  7 days of leaving their learning phase (by day 14) (target >= 90%), overall and by volume: the
  conversions the ad set would bring in that week at the target ROAS (its matured conversions in
  days 7-13 x target / true ROAS). "Typical spend" for a consumer account is tens of conversions
  a week; a B2B ad set often has a handful, and no test separates 1 conversion from 3 in a week;
- anomalies: precision and recall of tracking-outage and runaway-spend flags against the incidents
  the simulator injected (targets 0.9 / 0.8); an incident counts as detectable from day 8 (a
  week of baseline) to the day before the end (it is reported the next day);
- surplus (value - target x spend): share of the oracle's gain over no agent captured
  (target >= 90%), and whether the agent beats the naive rule.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import timedelta
from pathlib import Path
from typing import Any

# import from the repository, and keep bench/ itself off the path (bench/requests.py would shadow
# the `requests` library that the cycle's connectors import)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from agent.backtesting.arms import ORACLE_DAY, BacktestReport, run_backtest  # noqa: E402
from agent.backtesting.cycle_arm import backtest_config, run_cycle_backtest  # noqa: E402
from bench.decision_figures import compute_figures, render  # noqa: E402
from connectors.simulator.dynamics import simulate  # noqa: E402
from connectors.simulator.world import DEMO_SPECS, build_world  # noqa: E402
from policies.settings import PolicySettings  # noqa: E402

LEARNING_DAYS = 7
SPEED_DAYS = 7
VOLUME_BUCKETS = ((0.0, 10.0), (10.0, 30.0), (30.0, float("inf")))  # conversions a week at the target ROAS


def _weekly_conversions_at_target(report: BacktestReport) -> dict[str, float]:
    """Per ad set: matured conversions of its first week after learning, scaled to the target ROAS."""
    world = build_world(report.seed, DEMO_SPECS, report.start)
    first, last = report.start + timedelta(days=LEARNING_DAYS), report.start + timedelta(days=LEARNING_DAYS + 6)
    matured = simulate(world, [], last + timedelta(days=29))
    conversions: dict[str, float] = {}
    for row in matured.metrics:
        if row.level == "ad_set" and first <= row.day <= last:
            conversions[row.entity_id] = conversions.get(row.entity_id, 0.0) + row.conversions
    return {ad_set_id: conversions.get(ad_set_id, 0.0) * report.target_roas / max(roas, 1e-9)
            for ad_set_id, roas in report.true_roas_at_oracle_day.items()}


def _settings(overrides: Sequence[str]) -> PolicySettings:
    """Default policy settings with `POLICY.KEY=VALUE` overrides (values parsed as YAML scalars)."""
    raw: dict[str, dict[str, Any]] = {}
    for override in overrides:
        path, _, value = override.partition("=")
        policy, _, key = path.partition(".")
        if not key or not value:
            raise SystemExit(f"--set {override!r}: expected POLICY.KEY=VALUE, e.g. underperformers.confidence=0.95")
        raw.setdefault(policy, {})[key] = yaml.safe_load(value)
    return PolicySettings.model_validate(raw)


def _run(args: tuple[int, int, tuple[str, ...], tuple[str, ...], bool, bool]) -> BacktestReport:
    seed, days, policies, overrides, through_cycle, monthly_budgets = args
    settings = _settings(overrides)
    if through_cycle:
        config = backtest_config(DEMO_SPECS).model_copy(
            update={"defaults": backtest_config(DEMO_SPECS).defaults.model_copy(update={"policies": settings})})
        return run_cycle_backtest(seed, days, policies or None, config=config, monthly_budgets=monthly_budgets)
    return run_backtest(seed, days=days, policies=policies or None, settings=settings)


def _anomaly_scores(report: BacktestReport) -> tuple[int, int, int, int]:
    """(true positives, flags, detected incidents, detectable incidents) for outage and spike flags."""
    start = report.start
    first, last = start + timedelta(days=ORACLE_DAY + 1), start + timedelta(days=report.days - 2)
    incidents = {(a.kind, a.entity_id, a.day) for a in report.injected_anomalies}
    campaign_of = {a.entity_id: a.entity_id.rsplit("-", 1)[0] for a in report.injected_anomalies
                   if a.kind == "spend_spike"}
    flags = [f for f in report.flags if f.kind in ("tracking_outage", "runaway_spend") and first <= f.day <= last]

    def matches(flag_kind: str, entity_id: str, day: object, incident: tuple[str, str, object]) -> bool:
        kind, incident_entity, incident_day = incident
        if day != incident_day:
            return False
        if flag_kind == "tracking_outage":  # an account's outage shows in each of its campaigns too
            return kind == "tracking_outage" and (entity_id == incident_entity
                                                  or entity_id.startswith(f"{incident_entity}-"))
        return kind == "spend_spike" and entity_id in (incident_entity, campaign_of.get(incident_entity))

    true_positives = sum(1 for f in flags if any(matches(f.kind, f.entity_id, f.day, i) for i in incidents))
    detectable = [i for i in incidents if first <= i[2] <= last]
    detected = sum(1 for i in detectable if any(matches(f.kind, f.entity_id, f.day, i) for f in flags))
    return true_positives, len(flags), detected, len(detectable)


def _seed_file(seed_dir: Path, job: tuple[int, int, tuple[str, ...], tuple[str, ...], bool, bool]) -> Path:
    """Where one seed's report is kept: the name carries every setting that changes the report."""
    seed, days, policies, overrides, through_cycle, monthly_budgets = job
    settings = repr((days, policies, overrides, through_cycle, monthly_budgets)).encode()
    return seed_dir / f"seed-{seed:03d}-{hashlib.sha256(settings).hexdigest()[:12]}.pkl"


def _run_all(jobs: list[tuple[int, int, tuple[str, ...], tuple[str, ...], bool, bool]], workers: int,
             seed_dir: Path | None) -> list[BacktestReport]:
    """Every seed's report, in seed order; with `seed_dir`, reuses the finished ones and keeps each new one."""
    done: dict[int, BacktestReport] = {}
    if seed_dir is not None:
        seed_dir.mkdir(parents=True, exist_ok=True)
        for job in jobs:
            if _seed_file(seed_dir, job).exists():
                done[job[0]] = pickle.loads(_seed_file(seed_dir, job).read_bytes())
        if done:
            print(f"reusing {len(done)} finished seeds from {seed_dir}", file=sys.stderr)
    todo = [job for job in jobs if job[0] not in done]
    with ProcessPoolExecutor(workers) as pool:
        futures = {pool.submit(_run, job): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            done[job[0]] = future.result()
            if seed_dir is not None:
                target = _seed_file(seed_dir, job)
                partial = target.with_suffix(".part")
                partial.write_bytes(pickle.dumps(done[job[0]]))
                partial.replace(target)
            print(f"seed {job[0]} done ({len(done)}/{len(jobs)})", file=sys.stderr, flush=True)
    return [done[job[0]] for job in jobs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--jobs", "--workers", dest="workers", type=int, default=2,
                        help="seeds run at a time, one process each")
    parser.add_argument("--policy", action="append", default=[], help="only these policies (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="POLICY.KEY=VALUE",
                        help="override a policy setting, e.g. underperformers.confidence=0.95")
    parser.add_argument("--cycle", action="store_true", help="run the agent through the daemon's cycle")
    parser.add_argument("--no-monthly-budgets", action="store_true", help="with --cycle: no monthly budgets")
    parser.add_argument("--save", type=Path, help="also write the reports here (pickle), to recompute figures")
    parser.add_argument("--details", action="store_true",
                        help="also list each false pause and each ideal-test loser not paused by day 14")
    parser.add_argument("--seed-dir", type=Path,
                        help="keep each seed's report here as it finishes, and reuse the ones already there "
                             "(a long run can stop and resume; the file name carries the run's settings)")
    options = parser.parse_args()
    began = time.perf_counter()
    jobs = [(seed, options.days, tuple(options.policy), tuple(options.set), options.cycle,
             not options.no_monthly_budgets)
            for seed in range(1, options.seeds + 1)]
    reports = _run_all(jobs, options.workers, options.seed_dir)
    if options.save:
        options.save.write_bytes(pickle.dumps(reports))

    ad_sets = above = false_pauses = naive_false = losers = losers_fast = 0
    loser_delays: list[int] = []
    by_volume: dict[tuple[float, float], list[bool]] = {bucket: [] for bucket in VOLUME_BUCKETS}
    tp = flagged = detected = detectable = 0
    captured: list[float] = []
    beats_naive = 0
    print(f"{'seed':>4} {'none':>10} {'naive':>10} {'oracle':>10} {'agent':>10} {'captured':>9} "
          f"{'pauses':>6} {'false':>5} {'naive false':>11}")
    for report in reports:
        target = report.target_roas
        arms = report.arms
        ad_sets += report.ad_sets
        above += sum(1 for roas in report.true_roas_at_oracle_day.values() if roas >= target)
        false_pauses += arms["agent"].false_pauses
        naive_false += arms["naive"].false_pauses
        agent_pauses = {p.ad_set_id: p.day_index for p in report.pause_log if p.arm == "agent"}
        volume = _weekly_conversions_at_target(report)
        for ad_set_id, roas in report.true_roas_at_oracle_day.items():
            if roas <= target / 2:
                losers += 1
                fast = agent_pauses.get(ad_set_id, 10**6) <= LEARNING_DAYS + SPEED_DAYS
                losers_fast += fast
                for low, high in VOLUME_BUCKETS:
                    if low <= volume[ad_set_id] < high:
                        by_volume[(low, high)].append(fast)
                loser_delays.append(agent_pauses.get(ad_set_id, 10**6) - LEARNING_DAYS)
        scores = _anomaly_scores(report)
        tp, flagged, detected, detectable = (tp + scores[0], flagged + scores[1], detected + scores[2],
                                             detectable + scores[3])
        share = report.surplus_captured
        if share is not None:
            captured.append(share)
        beats_naive += arms["agent"].surplus > arms["naive"].surplus
        print(f"{report.seed:>4} {arms['none'].surplus:>10,.0f} {arms['naive'].surplus:>10,.0f} "
              f"{arms['oracle'].surplus:>10,.0f} {arms['agent'].surplus:>10,.0f} "
              f"{'-' if share is None else f'{share:.0%}':>9} {arms['agent'].pauses:>6} "
              f"{arms['agent'].false_pauses:>5} {arms['naive'].false_pauses:>11}")

    wrong = [(r.seed, p.ad_set_id, round(p.true_roas, 2), p.day_index) for r in reports for p in r.pause_log
             if p.arm == "agent" and p.true_roas >= r.target_roas]
    print()
    print("false pauses (seed, ad set, true ROAS that day, day):", *wrong, sep="\n  ")
    print(f"{len(reports)} seeds x {options.days} days, {ad_sets} ad sets "
          f"({time.perf_counter() - began:.0f} s)")
    print(f"false-pause rate among ad sets above target: {false_pauses / max(above, 1):.1%} "
          f"({false_pauses}/{above}; target <= 5%); naive rule: {naive_false / max(above, 1):.1%}")
    print(f"false pauses per 50 ad sets: {50 * false_pauses / max(ad_sets, 1):.2f} (target <= 1)")
    print(f"ad sets at <= half the target paused within {SPEED_DAYS} days of learning: "
          f"{losers_fast / max(losers, 1):.0%} ({losers_fast}/{losers}; target >= 90%)")
    within = ", ".join(f"{sum(d <= days for d in loser_delays) / max(len(loser_delays), 1):.0%} within {days}"
                       for days in (7, 14, 21, 28))
    print(f"  ... {within} days of learning; never: {sum(d > 10**5 for d in loser_delays)}")
    for (low, high), outcomes in by_volume.items():
        label = f">= {low:.0f}" if high == float("inf") else f"{low:.0f}-{high:.0f}"
        print(f"  ... with {label} conversions a week at the target ROAS: "
              f"{sum(outcomes) / max(len(outcomes), 1):.0%} ({sum(outcomes)}/{len(outcomes)}) within {SPEED_DAYS} days")
    print(f"anomaly precision {tp / max(flagged, 1):.2f} ({tp}/{flagged}; target >= 0.9), "
          f"recall {detected / max(detectable, 1):.2f} ({detected}/{detectable}; target >= 0.8)")
    if captured:
        print(f"surplus captured vs oracle: median {statistics.median(captured):.0%}, "
              f"min {min(captured):.0%} (target >= 90%); beats the naive rule in {beats_naive}/{len(reports)} seeds")
    print()
    path = "through the cycle" if options.cycle else "direct"
    budgets = "without" if options.cycle and options.no_monthly_budgets else "with"
    print(f"== issue 19 figures ({path}, {budgets} monthly budgets, {len(reports)} seeds x {options.days} days)")
    figures = compute_figures(reports)
    print(*render(figures), sep="\n")
    if options.details:
        print(*figures.details, sep="\n")


if __name__ == "__main__":
    main()
