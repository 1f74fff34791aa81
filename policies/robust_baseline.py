"""Daily series of a scope (account, campaign, ad set) and robust, weekday-aware baselines.

A baseline is the median of the previous days' values and its spread is 1.4826 x MAD (the normal-
equivalent standard deviation that one outlier cannot move). Spend is compared after dividing by
the account's weekday factor, so a quiet Sunday is not an anomaly; ratio metrics barely move with
the weekday. Conversions on young days are completed with the lag curve before any comparison,
and the scale adds the day's own sampling noise (a day with few clicks has a noisy CTR).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

import numpy as np

from policies.base import Snapshot
from policies.conversion_lag import LagCurve

MAD_TO_SD = 1.4826


class DayTotals(NamedTuple):
    """One scope's delivery on one day; `conversions`/`value` are lag-completed (expected final).

    A named tuple, not a dataclass: the detectors make one per scope and day (300k at 10k ad sets),
    and a frozen dataclass costs several times as much to build."""

    day: date
    spend: float
    impressions: int
    clicks: int
    conversions: float
    value: float
    reported_conversions: float
    completeness: float


def scope_series(snapshot: Snapshot, ad_set_ids: Iterable[str], curve: LagCurve,
                 since: date | None = None) -> dict[date, DayTotals]:
    """Per-day totals of the given ad sets over everything in the snapshot (from `since`, if given)."""
    arrays = snapshot.index.ad_set_totals(ad_set_ids, since or date.min, date.max)
    days = arrays.days()
    completeness = np.maximum([curve.at((snapshot.today - day).days) for day in days], 1e-3)
    # Python floats from here on (IEEE division is the same in numpy): the detectors' arithmetic
    # stays what it was row by row.
    columns = zip(days, arrays.present.tolist(), arrays.spend.tolist(), arrays.impressions.tolist(),
                  arrays.clicks.tolist(), (arrays.conversions / completeness).tolist(),
                  (arrays.value / completeness).tolist(), arrays.conversions.tolist(), completeness.tolist(),
                  strict=True)
    return {day: DayTotals(day, spend, int(impressions), int(clicks), conversions, value, reported, share)
            for day, present, spend, impressions, clicks, conversions, value, reported, share in columns if present}


def metric_value(metric: str, totals: DayTotals) -> float | None:
    """The metric on one day, or None where it is undefined (no clicks, no spend, ...)."""
    if metric == "spend":
        return totals.spend
    if metric == "clicks":
        return float(totals.clicks)
    if metric == "cpc":
        return totals.spend / totals.clicks if totals.clicks else None
    if metric == "ctr":
        return totals.clicks / totals.impressions if totals.impressions else None
    if metric == "conversion_rate":
        return totals.conversions / totals.clicks if totals.clicks else None
    if metric == "roas":
        return totals.value / totals.spend if totals.spend > 0 else None
    raise ValueError(f"unknown metric {metric!r}")


def sampling_variance(metric: str, totals: DayTotals, level: float, value_cv: float = 1.0) -> float:
    """Variance of the day's metric from counting noise alone, at baseline level `level`."""
    if metric == "ctr" and totals.impressions:
        return level * (1 - min(level, 1.0)) / totals.impressions
    if metric == "conversion_rate" and totals.clicks:
        # Poisson conversions, observed with completeness c then divided by c.
        return level / (totals.clicks * totals.completeness)
    if metric == "roas" and totals.spend > 0:
        # Value = sum of a Poisson number of conversion values: relative variance (1 + cv^2) / n.
        reported = max(totals.conversions * totals.completeness, 1.0)
        return level**2 * (1 + value_cv**2) / reported
    if metric == "clicks":
        return level
    return 0.0


@dataclass(frozen=True)
class Baseline:
    """Median and robust spread of a metric over the baseline days."""

    median: float
    spread: float  # 1.4826 x MAD
    days: int


def robust_baseline(values: Sequence[float]) -> Baseline | None:
    """Median and scaled MAD of `values` (None with fewer than 7 values)."""
    if len(values) < 7:
        return None
    ordered = sorted(values)
    median = _median(ordered)
    mad = _median(sorted(abs(v - median) for v in values))
    return Baseline(median, MAD_TO_SD * mad, len(values))


def _median(ordered: Sequence[float]) -> float:
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def baseline_days(day: date, days: int) -> list[date]:
    """The `days` days before `day`."""
    return [day - timedelta(days=offset) for offset in range(days, 0, -1)]


def robust_z(observed: float, baseline: Baseline, extra_variance: float) -> float:
    """(observed - median) over the combined robust spread and the day's own sampling noise."""
    floor = 0.02 * abs(baseline.median)  # a perfectly flat history must not make every wiggle infinite
    scale = math.sqrt(max(baseline.spread, floor) ** 2 + max(extra_variance, 0.0))
    if scale <= 0:
        return 0.0
    return (observed - baseline.median) / scale


def poisson_cdf(k: float, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean) (k rounded down)."""
    if mean <= 0:
        return 1.0
    term = math.exp(-mean)
    total = term
    for i in range(1, int(math.floor(k)) + 1):
        term *= mean / i
        total += term
    return min(total, 1.0)
