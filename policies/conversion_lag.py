"""The account's conversion-lag curve: what share of a day's final conversions is reported at age k.

Platforms attribute conversions to the day of the click, days later, so the last days of any window
look worse than they will. Policies correct for it by *discounting exposure*: a day whose
conversions are only 60% reported counts as 0.6 of its spend when a conversion rate is estimated,
which is the maximum-likelihood treatment of a Poisson count observed with known completeness.

The curve is estimated with the chain-ladder method used for insurance claims: for each age k the
development factor f_k = sum_d C(d, k+1) / sum_d C(d, k) over days d seen at both ages; then
completeness c(k) = 1 / (f_k * f_{k+1} * ... * f_{M-1}) with c(M) = 1 at maturity M. Ages without
enough evidence fall back to the factors of a deliberately conservative default curve (it assumes
more lag than most accounts have, which makes recent days count for less and pauses less likely).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from policies.base import ConversionRevision

MATURITY_DAYS = 28
MIN_DAYS_PER_AGE = 7  # days observed at both ages k and k+1 before f_k is trusted
MIN_CONVERSIONS_PER_AGE = 20.0  # and conversions reported at age k across those days

# Conservative default, shaped like a long B2B lag: share of final conversions reported at each age
# (linear between the ages listed). Consumer accounts usually report 70%+ on the first day.
DEFAULT_COMPLETENESS: Mapping[int, float] = {
    0: 0.2, 1: 0.35, 2: 0.45, 3: 0.52, 5: 0.62, 7: 0.7, 10: 0.8, 14: 0.88, 21: 0.96, 28: 1.0,
}


def _default_at(age: int) -> float:
    if age >= MATURITY_DAYS:
        return 1.0
    ages = sorted(DEFAULT_COMPLETENESS)
    for low, high in zip(ages, ages[1:], strict=False):
        if low <= age <= high:
            share = (age - low) / (high - low)
            return DEFAULT_COMPLETENESS[low] + share * (DEFAULT_COMPLETENESS[high] - DEFAULT_COMPLETENESS[low])
    return DEFAULT_COMPLETENESS[0]


@dataclass(frozen=True)
class LagCurve:
    """Completeness by age in days (index = age, 0..MATURITY_DAYS); `source` says where it came from."""

    completeness: tuple[float, ...]
    source: str  # "estimated", "partly estimated" or "default"
    estimated_ages: int = 0

    def at(self, age_days: int) -> float:
        """Share of final conversions already reported for a day `age_days` old (1.0 once mature)."""
        if age_days >= len(self.completeness):
            return 1.0
        return self.completeness[max(age_days, 0)]

    def for_day(self, day: date, today: date) -> float:
        """Completeness of `day` as seen on `today`."""
        return self.at((today - day).days)

    def as_evidence(self, ages: int = 7) -> dict[str, object]:
        """The curve's first ages, for a proposal's evidence."""
        return {
            "source": self.source,
            "completeness_by_age": {str(age): round(self.at(age), 3) for age in range(1, ages + 1)},
        }


DEFAULT_CURVE = LagCurve(tuple(_default_at(age) for age in range(MATURITY_DAYS + 1)), "default")


def estimate_lag_curve(revisions: Sequence[ConversionRevision]) -> LagCurve:
    """The chain-ladder curve from an account's revision history (the default where data is thin)."""
    by_day: dict[date, dict[int, float]] = defaultdict(dict)
    for revision in revisions:
        if 0 <= revision.age_days <= MATURITY_DAYS:
            by_day[revision.day][revision.age_days] = revision.conversions
    factors: list[float] = []
    estimated = 0
    for age in range(MATURITY_DAYS):
        younger = older = 0.0
        days = 0
        for ages in by_day.values():
            if age in ages and age + 1 in ages:
                younger += ages[age]
                older += ages[age + 1]
                days += 1
        if days >= MIN_DAYS_PER_AGE and younger >= MIN_CONVERSIONS_PER_AGE:
            # Restatements can lower a count; a curve that shrinks with age would be nonsense.
            factors.append(max(1.0, older / younger))
            estimated += 1
        else:
            factors.append(_default_at(age + 1) / _default_at(age))
    if estimated == 0:
        return DEFAULT_CURVE
    completeness = [1.0] * (MATURITY_DAYS + 1)
    for age in range(MATURITY_DAYS - 1, -1, -1):
        completeness[age] = completeness[age + 1] / factors[age]
    source = "estimated" if estimated == MATURITY_DAYS else "partly estimated"
    return LagCurve(tuple(completeness), source, estimated)
