"""The decision-quality figures of bench/decision_quality.py, computed from backtest reports.

- surplus gain vs the oracle: median, 90% interval (5th-95th percentile over seeds) and minimum;
- false pauses per 50 ad sets: over all seeds together (pauses of ad sets at or above target on
  the day of the pause);
- clear losers (true ROAS on day 7 at most half the target): median days from the end of learning
  (day 7) to the pause, a loser never paused counting as never;
- the ideal test: for each clear loser, a one-sided Poisson test of its true ROAS against the
  target on its matured data of days 7-13 (the week after learning, every late conversion in),
  at the false-alarm rate the policy achieves on the ad sets above target. Under H0 (ROAS = target)
  its conversions have mean target x spend / value per conversion; the test rejects when
  P(N <= observed) is at most that rate. Reported: the share of the losers the ideal test rejects
  that the agent had paused by day 14;
- budget churn: set_budget changes per budget holder per week (median over holders, those never
  changed included) and reversals (a move against the same holder's previous move at most 7 days
  after it, the 7th day included: inside the hysteresis' `reversal_days`, 8) as a share of all
  budget changes.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from agent.backtesting.arms import BacktestReport
from connectors.simulator.dynamics import simulate
from connectors.simulator.world import DEMO_SPECS, build_world
from policies.robust_baseline import poisson_cdf

LEARNING_DAYS = 7
IDEAL_TEST_DAY = 14
MATURITY_DAYS = 29
REVERSAL_DAYS = 7
NEVER = 10**6


@dataclass(frozen=True)
class Figures:
    surplus_median: float | None
    surplus_interval: tuple[float, float] | None
    surplus_min: float | None
    false_pauses_per_50: float
    false_alarm_rate: float
    clear_losers: int
    median_days_to_pause: float | None  # None: more than half never paused
    ideal_rejections: int
    ideal_matched: int
    budget_changes_per_holder_week: float
    budget_changes: int
    reversals: int
    reversals_by_policy: dict[str, int]  # "earlier move's policy -> reversing move's policy": count
    details: tuple[str, ...] = ()  # one line per false pause and per ideal-test loser not paused by day 14

    @property
    def ideal_share(self) -> float | None:
        return self.ideal_matched / self.ideal_rejections if self.ideal_rejections else None

    @property
    def reversal_share(self) -> float:
        return self.reversals / self.budget_changes if self.budget_changes else 0.0


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _week_after_learning(report: BacktestReport) -> dict[str, tuple[float, float, float]]:
    """Per ad set: (spend, conversions, value) over days 7-13 with every conversion matured, no agent."""
    world = build_world(report.seed, DEMO_SPECS, report.start)
    first = report.start + timedelta(days=LEARNING_DAYS)
    last = report.start + timedelta(days=IDEAL_TEST_DAY - 1)
    matured = simulate(world, [], last + timedelta(days=MATURITY_DAYS))
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for row in matured.metrics:
        if row.level == "ad_set" and first <= row.day <= last:
            total = totals[row.entity_id]
            total[0] += float(row.spend)
            total[1] += row.conversions
            total[2] += float(row.conversion_value)
    return {k: (v[0], v[1], v[2]) for k, v in totals.items()}


def ideal_test_rejects(spend: float, conversions: float, value: float, target: float, alpha: float,
                       fallback_value_per_conversion: float) -> bool:
    """One-sided Poisson test of ROAS < target on matured data at false-alarm rate `alpha`."""
    per_conversion = value / conversions if conversions > 0 else fallback_value_per_conversion
    if spend <= 0 or per_conversion <= 0:
        return False
    expected_at_target = target * spend / per_conversion
    return poisson_cdf(round(conversions), expected_at_target) <= alpha


def _budget_churn(report: BacktestReport) -> tuple[list[float], int, dict[str, int]]:
    """(changes per holder per week for every holder, changes, reversals by "earlier policy -> later
    policy") of the agent arm (policies are named only in reports made through the cycle)."""
    world = build_world(report.seed, DEMO_SPECS, report.start)
    holders = {e.entity_id: Decimal(e.daily_budget) for e in simulate(world, [], report.start).entities
               if e.daily_budget is not None}
    budget = dict(holders)
    last_move: dict[str, tuple[object, int, str]] = {}
    counts: dict[str, int] = dict.fromkeys(holders, 0)
    changes = 0
    reversals: dict[str, int] = defaultdict(int)
    policies = report.agent_mutation_policies or ("",) * len(report.agent_mutations)
    for mutation, policy in zip(report.agent_mutations, policies, strict=True):
        if mutation.kind != "set_budget" or mutation.entity_id not in budget:
            continue
        after = Decimal(str(mutation.params["daily_budget"]))
        before = budget[mutation.entity_id]
        if after == before:
            continue
        direction = 1 if after > before else -1
        previous = last_move.get(mutation.entity_id)
        if previous is not None and previous[1] == -direction and \
                (mutation.effective_day - previous[0]).days <= REVERSAL_DAYS:  # type: ignore[operator]
            reversals[f"{previous[2] or '?'} -> {policy or '?'}"] += 1
        last_move[mutation.entity_id] = (mutation.effective_day, direction, policy)
        budget[mutation.entity_id] = after
        counts[mutation.entity_id] += 1
        changes += 1
    weeks = report.days / 7
    return [count / weeks for count in counts.values()], changes, reversals


def compute_figures(reports: Sequence[BacktestReport]) -> Figures:
    captured = [r.surplus_captured for r in reports if r.surplus_captured is not None]
    ad_sets = sum(r.ad_sets for r in reports)
    false_pauses = sum(r.arms["agent"].false_pauses for r in reports)
    above = sum(1 for r in reports for roas in r.true_roas_at_oracle_day.values() if roas >= r.target_roas)
    # at least one false alarm in (above + 1): a policy with none observed still has some
    alpha = max(false_pauses, 1) / (above + 1)
    delays: list[int] = []
    rejections = matched = 0
    per_week: list[float] = []
    changes = 0
    reversals: dict[str, int] = defaultdict(int)
    details: list[str] = []
    for report in reports:
        target = report.target_roas
        for pause in report.pause_log:
            if pause.arm == "agent" and pause.true_roas >= target:
                details.append(f"false pause: seed {report.seed} {pause.ad_set_id} day {pause.day_index} "
                               f"true ROAS {pause.true_roas:.2f} ({pause.policy})")
        paused_on = {p.ad_set_id: p.day_index for p in report.pause_log if p.arm == "agent"}
        week = _week_after_learning(report)
        spend_all = sum(v[0] for v in week.values())
        conversions_all = sum(v[1] for v in week.values())
        fallback = sum(v[2] for v in week.values()) / conversions_all if conversions_all else 0.0
        del spend_all
        for ad_set_id, roas in report.true_roas_at_oracle_day.items():
            if roas > target / 2:
                continue
            day = paused_on.get(ad_set_id, NEVER)
            delays.append(day - LEARNING_DAYS if day != NEVER else NEVER)
            spend, conversions, value = week.get(ad_set_id, (0.0, 0.0, 0.0))
            if ideal_test_rejects(spend, conversions, value, target, alpha, fallback):
                rejections += 1
                matched += day <= IDEAL_TEST_DAY
                if day > IDEAL_TEST_DAY:
                    details.append(f"ideal-test loser paused late: seed {report.seed} {ad_set_id} true ROAS "
                                   f"{roas:.2f}, {conversions:g} conversions on {spend:.0f} in days 7-13, "
                                   f"paused {'never' if day == NEVER else f'day {day}'}")
        holder_weeks, holder_changes, holder_reversals = _budget_churn(report)
        per_week += holder_weeks
        changes += holder_changes
        for pair, count in holder_reversals.items():
            reversals[pair] += count
    median_delay = statistics.median(delays) if delays else None
    return Figures(
        surplus_median=statistics.median(captured) if captured else None,
        surplus_interval=(_percentile(captured, 0.05), _percentile(captured, 0.95)) if captured else None,
        surplus_min=min(captured) if captured else None,
        false_pauses_per_50=50 * false_pauses / max(ad_sets, 1),
        false_alarm_rate=alpha,
        clear_losers=len(delays),
        median_days_to_pause=None if median_delay is None or median_delay >= NEVER else float(median_delay),
        ideal_rejections=rejections,
        ideal_matched=matched,
        budget_changes_per_holder_week=statistics.median(per_week) if per_week else 0.0,
        budget_changes=changes,
        reversals=sum(reversals.values()),
        reversals_by_policy=dict(sorted(reversals.items(), key=lambda item: -item[1])),
        details=tuple(details),
    )


def render(figures: Figures) -> list[str]:
    """The figures as report lines, with the issue's targets beside them."""
    lines = []
    if figures.surplus_median is not None and figures.surplus_interval is not None:
        low, high = figures.surplus_interval
        lines.append(f"surplus gain vs oracle: median {figures.surplus_median:.0%}, 90% interval {low:.0%}-{high:.0%}, "
                     f"min {figures.surplus_min:.0%} (targets: median >= 140%, min >= 110%)")
    lines.append(f"false pauses per 50 ad sets (all seeds): {figures.false_pauses_per_50:.2f} (target <= 0.5)")
    delay = "never (most)" if figures.median_days_to_pause is None else f"{figures.median_days_to_pause:g}"
    lines.append(f"clear losers: {figures.clear_losers}; median days from learning's end to the pause: {delay} "
                 f"(target <= 10)")
    share = "-" if figures.ideal_share is None else f"{figures.ideal_share:.0%}"
    lines.append(f"ideal test (one-sided, alpha {figures.false_alarm_rate:.3f}, matured days 7-13): rejects "
                 f"{figures.ideal_rejections}; paused by day 14: {figures.ideal_matched} ({share}; target >= 90%)")
    lines.append(f"budget changes per holder per week (median): {figures.budget_changes_per_holder_week:.2f} "
                 f"(target <= 1); reversals within {REVERSAL_DAYS} days: {figures.reversals}/{figures.budget_changes} "
                 f"= {figures.reversal_share:.1%} (target < 5%)")
    if figures.reversals and any("?" not in pair for pair in figures.reversals_by_policy):
        lines.append("  reversals by policy (earlier move -> reversing move): "
                     + ", ".join(f"{pair} {count}" for pair, count in figures.reversals_by_policy.items()))
    return lines
