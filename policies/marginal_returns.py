"""Diminishing returns: what the next unit of a holder's spend brings back, at today's budget or another.

Response model: value = a x spend^b with 0 < b <= 1 (a documented concave response; b = 1 is
constant returns). Then average ROAS at spend s is a x s^(b-1) and the marginal ROAS, the value of
the next unit, is b x a x s^(b-1) = b x average ROAS. Scaling spend by k from today's:

    marginal ROAS(k) = b x R x k^(b-1)

with R today's average ROAS (the lag-corrected posterior mean of policies/roas_evidence.py). b is
estimated from the holder's own history, a log-log regression of lag-completed daily value on daily
spend (the days it spent different amounts are the different budget levels), shrunk toward a prior
(0.7, sd 0.2): day-to-day spend rarely varies enough to identify it alone.

Pacing spends more only where marginal ROAS(k) clears the target: the largest worthwhile k is
(b x R / target)^(1 / (1 - b)), and 1 (no raise) when the next unit already returns less.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from policies.base import Snapshot
from policies.budget_holders import BudgetHolder, budget_holders, daily_spend
from policies.conversion_lag import LagCurve
from policies.roas_evidence import (
    ad_set_ids,
    collect_window,
    estimate_value_cv,
    roas_posterior,
    window_bounds,
)

ELASTICITY_PRIOR_SD = 0.2
ELASTICITY_BOUNDS = (0.05, 1.0)
MAX_WORTHWHILE_FACTOR = 100.0  # constant returns above target: no limit from returns (the caps decide)


@dataclass(frozen=True)
class ResponseCurve:
    """One holder's concave response: average ROAS today and the elasticity b."""

    average_roas: float
    elasticity: float

    def marginal_roas(self, factor: float = 1.0) -> float:
        """Return on the next unit of spend with spend scaled by `factor` from today's."""
        return self.elasticity * self.average_roas * factor ** (self.elasticity - 1)

    def worthwhile_factor(self, target_roas: float) -> float:
        """The largest spend factor at which the next unit still returns `target_roas` (1 if none)."""
        today = self.marginal_roas()
        if today < target_roas or today <= 0:
            return 1.0
        if self.elasticity >= 1.0:
            return MAX_WORTHWHILE_FACTOR
        # in logs: with b near 1 the exponent 1 / (1 - b) is huge and the power overflows
        log_factor = math.log(today / target_roas) / (1 - self.elasticity)
        return min(math.exp(min(log_factor, math.log(MAX_WORTHWHILE_FACTOR))), MAX_WORTHWHILE_FACTOR)


def spend_elasticity(snapshot: Snapshot, holder: BudgetHolder, window_days: int, prior: float,
                     curve: LagCurve) -> float:
    """b of value = a x spend^b for one holder, from its own days, shrunk toward `prior`."""
    start, end = window_bounds(snapshot.today, window_days)
    xs: list[float] = []
    ys: list[float] = []
    value_by_day: dict = {}
    for entity_id in holder.ad_set_ids:
        for row in snapshot.rows(entity_id, start, end):
            if row.level == "ad_set":
                value_by_day[row.day] = value_by_day.get(row.day, 0.0) + float(row.conversion_value)
    for day, spend in daily_spend(snapshot, holder.ad_set_ids, start, end).items():
        value = value_by_day.get(day, 0.0) / max(curve.for_day(day, snapshot.today), 1e-6)
        if spend > 0 and value > 0:
            xs.append(math.log(float(spend)))
            ys.append(math.log(value))
    if len(xs) < 5:
        return prior
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx <= 1e-9:
        return prior
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    residual = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in zip(xs, ys, strict=True)) / (len(xs) - 2)
    slope_var = max(residual / sxx, 1e-9)
    prior_precision, data_precision = 1 / ELASTICITY_PRIOR_SD**2, 1 / slope_var
    shrunk = (prior * prior_precision + slope * data_precision) / (prior_precision + data_precision)
    return min(max(shrunk, ELASTICITY_BOUNDS[0]), ELASTICITY_BOUNDS[1])


def response_curves(snapshot: Snapshot, window_days: int, prior_elasticity: float,
                    curve: LagCurve) -> dict[str, ResponseCurve]:
    """Each budget holder's response curve over the window (holders that spent nothing are left out)."""
    start, end = window_bounds(snapshot.today, window_days)
    account = collect_window(snapshot, ad_set_ids(snapshot), start, end, curve)
    value_cv = estimate_value_cv(snapshot, start, end)
    curves = {}
    for holder in budget_holders(snapshot):
        window = collect_window(snapshot, holder.ad_set_ids, start, end, curve)
        if window.spend <= 0:
            continue
        posterior = roas_posterior(window, account, 1.0, value_cv)
        curves[holder.entity_id] = ResponseCurve(
            posterior.mean, spend_elasticity(snapshot, holder, window_days, prior_elasticity, curve))
    return curves
