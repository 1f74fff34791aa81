"""The decision-quality figures of bench/decision_quality.py, computed from backtest reports.

- surplus gain vs the oracle: median, 90% interval (5th-95th percentile over seeds) and minimum;
- false pauses per 50 ad sets: over all seeds together (pauses of ad sets at or above target on
  the day of the pause);
- clear losers (true ROAS on day 7 at most half the target): median days from the end of learning
  (day 7) to the pause, a loser never paused counting as never;
- the ideal test: for each clear loser, a one-sided Poisson test of its true ROAS against the
  target on its matured data of days 7-13 (the week after learning, every late conversion in),
  at the false-alarm rate the policy achieves on the ad sets above target. Under H0 (ROAS = target)
  its conversions have mean target x spend / value per conversion; its p-value is P(N <= observed).
  The test takes the week's observed value per conversion as known, so its p-values are not
  uniform under H0: at a nominal level alpha it rejects 2-3 times alpha of the ad sets above target.
  Its cut-off is therefore calibrated on those same ad sets: the largest at which the ideal test's
  own false alarms among them are no more frequent than the policy's false pauses (the two compared
  at one realised false-alarm rate, as two classifiers are on an ROC curve). Reported: the share of
  the losers the ideal test rejects that the agent had paused by day 14; beside it, the nominal
  reading (p-value at most the rate itself) the bench used before;
- budget churn: set_budget changes per budget holder per week (median over holders, those never
  changed included) and reversals (a move against the same holder's previous move at most 7 days
  after it, the 7th day included: inside the hysteresis' `reversal_days`, 8) as a share of all
  budget changes.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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
    ideal_cutoff: float  # the calibrated p-value cut-off (rejects below it)
    nominal_rejections: int  # the ideal test at p <= false_alarm_rate (not calibrated)
    nominal_matched: int
    budget_changes_per_holder_week: float
    budget_changes: int
    reversals: int
    reversals_by_policy: dict[str, int]  # "earlier move's policy -> reversing move's policy": count
    details: tuple[str, ...] = ()  # one line per false pause and per ideal-test loser not paused by day 14
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # 90%, bootstrap over seeds

    @property
    def ideal_share(self) -> float | None:
        return self.ideal_matched / self.ideal_rejections if self.ideal_rejections else None

    @property
    def nominal_share(self) -> float | None:
        return self.nominal_matched / self.nominal_rejections if self.nominal_rejections else None

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
    p_value = _ideal_p_value(spend, conversions, value, target, fallback_value_per_conversion)
    return p_value is not None and p_value <= alpha


def calibrated_cutoff(above_target_p_values: Sequence[float], rate: float) -> float:
    """The ideal test's p-value cut-off (it rejects p < cut-off) at which it falsely rejects at most
    `rate` of the ad sets above target, given their p-values: with n of them, floor(rate x n) false
    alarms are allowed, so the cut-off is the next smallest p-value (1.0 and above: all allowed)."""
    ordered = sorted(above_target_p_values)
    allowed = int(rate * len(ordered) + 1e-9)
    return ordered[allowed] if allowed < len(ordered) else 1.0 + 1e-9


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


@dataclass(frozen=True)
class _Loser:
    """A clear loser of one seed: when the agent paused it, and its ideal test's p-value."""

    ad_set_id: str
    true_roas: float
    paused_on: int  # day index, NEVER if never
    p_value: float | None  # P(N <= observed | ROAS = target) on matured days 7-13; None: no data
    spend: float
    conversions: float


@dataclass(frozen=True)
class _SeedParts:
    """What one seed contributes to the figures (the simulations are run once, then resampled)."""

    seed: int
    captured: float | None
    ad_sets: int
    false_pauses: int
    above: int
    losers: tuple[_Loser, ...]
    holder_weeks: tuple[float, ...]
    changes: int
    reversals: dict[str, int]
    false_pause_lines: tuple[str, ...]
    above_p_values: tuple[float, ...]  # the ideal test's p-value of each ad set above target (1: no data)


def _ideal_p_value(spend: float, conversions: float, value: float, target: float,
                   fallback_value_per_conversion: float) -> float | None:
    per_conversion = value / conversions if conversions > 0 else fallback_value_per_conversion
    if spend <= 0 or per_conversion <= 0:
        return None
    return poisson_cdf(round(conversions), target * spend / per_conversion)


def _seed_parts(report: BacktestReport) -> _SeedParts:
    target = report.target_roas
    paused_on = {p.ad_set_id: p.day_index for p in report.pause_log if p.arm == "agent"}
    week = _week_after_learning(report)
    conversions_all = sum(v[1] for v in week.values())
    fallback = sum(v[2] for v in week.values()) / conversions_all if conversions_all else 0.0
    losers = []
    above_p_values = []
    for ad_set_id, roas in report.true_roas_at_oracle_day.items():
        spend, conversions, value = week.get(ad_set_id, (0.0, 0.0, 0.0))
        p_value = _ideal_p_value(spend, conversions, value, target, fallback)
        if roas >= target:
            above_p_values.append(1.0 if p_value is None else p_value)
        if roas > target / 2:
            continue
        losers.append(_Loser(ad_set_id, roas, paused_on.get(ad_set_id, NEVER), p_value, spend, conversions))
    holder_weeks, changes, reversals = _budget_churn(report)
    false_lines = tuple(f"false pause: seed {report.seed} {p.ad_set_id} day {p.day_index} true ROAS "
                        f"{p.true_roas:.2f} ({p.policy})"
                        for p in report.pause_log if p.arm == "agent" and p.true_roas >= target)
    return _SeedParts(report.seed, report.surplus_captured, report.ad_sets, report.arms["agent"].false_pauses,
                      len(above_p_values), tuple(losers), tuple(holder_weeks), changes, dict(reversals), false_lines,
                      tuple(above_p_values))


def _aggregate(parts: Sequence[_SeedParts], with_details: bool = False) -> Figures:
    captured = [p.captured for p in parts if p.captured is not None]
    ad_sets = sum(p.ad_sets for p in parts)
    false_pauses = sum(p.false_pauses for p in parts)
    above = sum(p.above for p in parts)
    # at least one false alarm in (above + 1): a policy with none observed still has some
    alpha = max(false_pauses, 1) / (above + 1)
    cutoff = calibrated_cutoff([p for part in parts for p in part.above_p_values], alpha)
    delays: list[int] = []
    rejections = matched = nominal_rejections = nominal_matched = 0
    reversals: dict[str, int] = defaultdict(int)
    details: list[str] = []
    for part in parts:
        if with_details:
            details += part.false_pause_lines
        for loser in part.losers:
            day = loser.paused_on
            delays.append(day - LEARNING_DAYS if day != NEVER else NEVER)
            if loser.p_value is not None and loser.p_value <= alpha:
                nominal_rejections += 1
                nominal_matched += day <= IDEAL_TEST_DAY
            if loser.p_value is not None and loser.p_value < cutoff:
                rejections += 1
                matched += day <= IDEAL_TEST_DAY
                if with_details and day > IDEAL_TEST_DAY:
                    details.append(f"ideal-test loser paused late: seed {part.seed} {loser.ad_set_id} true ROAS "
                                   f"{loser.true_roas:.2f}, {loser.conversions:g} conversions on {loser.spend:.0f} "
                                   f"in days 7-13, paused {'never' if day == NEVER else f'day {day}'}")
        for pair, count in part.reversals.items():
            reversals[pair] += count
    per_week = [w for p in parts for w in p.holder_weeks]
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
        ideal_cutoff=cutoff,
        nominal_rejections=nominal_rejections,
        nominal_matched=nominal_matched,
        budget_changes_per_holder_week=statistics.median(per_week) if per_week else 0.0,
        budget_changes=sum(p.changes for p in parts),
        reversals=sum(reversals.values()),
        reversals_by_policy=dict(sorted(reversals.items(), key=lambda item: -item[1])),
        details=tuple(details),
    )


INTERVAL_FIGURES = ("false_pauses_per_50", "median_days_to_pause", "ideal_share", "nominal_share",
                    "budget_changes_per_holder_week", "reversal_share")


def compute_figures(reports: Sequence[BacktestReport], resamples: int = 1000, seed: int = 0) -> Figures:
    """The figures over every seed, with a 90% interval for each from `resamples` bootstrap resamples of
    the seeds (percentile; the seed is the unit: its ad sets share a world)."""
    parts = [_seed_parts(report) for report in reports]
    figures = _aggregate(parts, with_details=True)
    if len(parts) < 2 or resamples <= 0:
        return figures
    rng = random.Random(seed)
    drawn: dict[str, list[float]] = {name: [] for name in INTERVAL_FIGURES}
    for _ in range(resamples):
        resampled = _aggregate([parts[rng.randrange(len(parts))] for _ in parts])
        for name in INTERVAL_FIGURES:
            value = getattr(resampled, name)
            if value is not None:
                drawn[name].append(float(value))
    intervals = {name: (_percentile(values, 0.05), _percentile(values, 0.95))
                 for name, values in drawn.items() if values}
    return replace(figures, intervals=intervals)


def _interval(figures: Figures, name: str, style: str) -> str:
    found = figures.intervals.get(name)
    if found is None:
        return ""
    return f" [90% interval over seeds {format(found[0], style)}-{format(found[1], style)}]"


def render(figures: Figures) -> list[str]:
    """The figures as report lines, with the issue's targets beside them (and each figure's 90%
    interval over seeds, where computed)."""
    lines = []
    if figures.surplus_median is not None and figures.surplus_interval is not None:
        low, high = figures.surplus_interval
        lines.append(f"surplus gain vs oracle: median {figures.surplus_median:.0%}, 90% interval {low:.0%}-{high:.0%}, "
                     f"min {figures.surplus_min:.0%} (targets: median >= 140%, min >= 110%)")
    lines.append(f"false pauses per 50 ad sets (all seeds): {figures.false_pauses_per_50:.2f}"
                 f"{_interval(figures, 'false_pauses_per_50', '.2f')} (target <= 0.5)")
    delay = "never (most)" if figures.median_days_to_pause is None else f"{figures.median_days_to_pause:g}"
    lines.append(f"clear losers: {figures.clear_losers}; median days from learning's end to the pause: {delay}"
                 f"{_interval(figures, 'median_days_to_pause', 'g')} (target <= 10)")
    share = "-" if figures.ideal_share is None else f"{figures.ideal_share:.0%}"
    lines.append(f"ideal test (one-sided, matured days 7-13, at the policy's false-alarm rate "
                 f"{figures.false_alarm_rate:.3f} on the ad sets above target: p < {figures.ideal_cutoff:.2g}): "
                 f"rejects {figures.ideal_rejections}; paused by day 14: {figures.ideal_matched} ({share}"
                 f"{_interval(figures, 'ideal_share', '.0%')}; target >= 90%)")
    nominal = "-" if figures.nominal_share is None else f"{figures.nominal_share:.0%}"
    lines.append(f"  ... the nominal reading (p <= {figures.false_alarm_rate:.3f}, which rejects more of the ad sets "
                 f"above target than the policy pauses): rejects {figures.nominal_rejections}; paused by day 14: "
                 f"{figures.nominal_matched} ({nominal}{_interval(figures, 'nominal_share', '.0%')})")
    lines.append(f"budget changes per holder per week (median): {figures.budget_changes_per_holder_week:.2f}"
                 f"{_interval(figures, 'budget_changes_per_holder_week', '.2f')} (target <= 1); reversals within "
                 f"{REVERSAL_DAYS} days: {figures.reversals}/{figures.budget_changes} = {figures.reversal_share:.1%}"
                 f"{_interval(figures, 'reversal_share', '.1%')} (target < 5%)")
    if figures.reversals and any("?" not in pair for pair in figures.reversals_by_policy):
        lines.append("  reversals by policy (earlier move -> reversing move): "
                     + ", ".join(f"{pair} {count}" for pair, count in figures.reversals_by_policy.items()))
    return lines
