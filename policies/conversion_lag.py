"""The account's conversion-lag curve: what share of a day's final conversions is reported at age k.

Platforms attribute conversions to the day of the click, days later, so the last days of any window
look worse than they will. Policies correct for it by *discounting exposure*: a day whose
conversions are only 60% reported counts as 0.6 of its spend when a conversion rate is estimated,
which is the maximum-likelihood treatment of a Poisson count observed with known completeness.

The curve is estimated with the chain-ladder method used for insurance claims: for each age k the
development factor f_k = sum_d C(d, k+1) / sum_d C(d, k) over days d seen at both ages; then
completeness c(k) = 1 / (f_k * f_{k+1} * ... * f_{M-1}) with c(M) = 1 at maturity M.

Ages without enough evidence (an account's first weeks: a day must be seen at both ages) take their
factors from a geometric tail fitted to the ages that have it: the share still unreported decays as
1 - c(k) = q * (r^k - r^M) / (1 - r^M), the shape of a same-day peak with an exponentially fading tail
cut off at the attribution window M. Without a fit, a
deliberately conservative default would say a consumer account's yesterday is only 35% reported when
it is 70%, inflating every recent ROAS by half and keeping clear losers running for weeks. With fewer
than `MIN_FIT_AGES` estimated ages there is nothing to fit and the conservative default is used (it
assumes more lag than most accounts have, which makes recent days count for less and pauses less
likely). Estimated ages always override the fit, so a heavier real tail replaces it age by age.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from policies.base import ConversionRevision, Snapshot

MATURITY_DAYS = 28
MIN_DAYS_PER_AGE = 7  # days observed at both ages k and k+1 before f_k is trusted
MIN_CONVERSIONS_PER_AGE = 20.0  # and conversions reported at age k across those days
MIN_FIT_AGES = 5  # estimated development factors needed before the tail is fitted rather than assumed
# Grid of the geometric tail 1 - c(k) = q * r^k: r = 0.97 is a ~33-day mean lag, slower than any
# 28-day attribution window; q is the share unreported at age 0.
_TAIL_R = np.linspace(0.30, 0.97, 135)
_TAIL_Q = np.linspace(0.01, 0.99, 99)

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


def _development_factors(revisions: Sequence[ConversionRevision]) -> dict[int, tuple[float, float]]:
    """Chain-ladder factor f_k and its weight (conversions at age k) for each age with enough evidence."""
    by_day: dict[date, dict[int, float]] = defaultdict(dict)
    for revision in revisions:
        if 0 <= revision.age_days <= MATURITY_DAYS:
            by_day[revision.day][revision.age_days] = revision.conversions
    factors: dict[int, tuple[float, float]] = {}
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
            factors[age] = (max(1.0, older / younger), younger)
    return factors


def _unreported(q: float | np.ndarray, r: float | np.ndarray, age: float | np.ndarray) -> np.ndarray:
    """Share of final conversions not yet reported at `age` under the truncated geometric tail."""
    return np.asarray(q * (r**age - r**MATURITY_DAYS) / (1.0 - r**MATURITY_DAYS))


def fit_geometric_tail(factors: Mapping[int, tuple[float, float]]) -> tuple[float, float]:
    """Maximum-likelihood (q, r) of the tail, given the estimated development factors.

    Each age's late conversions, younger * (f_k - 1), are Poisson around younger * (model f_k - 1).
    Single factors are noisy (a few late conversions a day), so all ages are fitted at once.
    """
    ages = np.array(sorted(factors), dtype=float)
    younger = np.array([factors[int(age)][1] for age in ages])
    late = younger * (np.array([factors[int(age)][0] for age in ages]) - 1.0)
    r = _TAIL_R[:, None, None]
    q = _TAIL_Q[None, :, None]
    unreported_now, unreported_next = _unreported(q, r, ages), _unreported(q, r, ages + 1)
    with np.errstate(divide="ignore", invalid="ignore"):  # q = 1 at age 0: nothing reported yet
        expected = younger * ((1.0 - unreported_next) / (1.0 - unreported_now) - 1.0)
        log_likelihood = np.where(expected > 0, late * np.log(expected), np.where(late > 0, -np.inf, 0.0)) - expected
    total = np.nan_to_num(log_likelihood.sum(axis=2), nan=-np.inf)
    best_r, best_q = np.unravel_index(int(np.argmax(total)), total.shape)
    return float(_TAIL_Q[best_q]), float(_TAIL_R[best_r])


def estimate_lag_curve(revisions: Sequence[ConversionRevision]) -> LagCurve:
    """The chain-ladder curve from an account's revision history, with a fitted (or, where data is
    thin, the conservative default) tail."""
    estimated = _development_factors(revisions)
    if not estimated:
        return DEFAULT_CURVE
    if len(estimated) >= MIN_FIT_AGES:
        q, r = fit_geometric_tail(estimated)

        def tail(age: int) -> float:
            return float((1.0 - _unreported(q, r, age + 1)) / (1.0 - _unreported(q, r, age)))
    else:
        def tail(age: int) -> float:
            return _default_at(age + 1) / _default_at(age)
    factors = [estimated[age][0] if age in estimated else tail(age) for age in range(MATURITY_DAYS)]
    completeness = [1.0] * (MATURITY_DAYS + 1)
    for age in range(MATURITY_DAYS - 1, -1, -1):
        completeness[age] = completeness[age + 1] / factors[age]
    source = "estimated" if len(estimated) == MATURITY_DAYS else "partly estimated"
    return LagCurve(tuple(completeness), source, len(estimated))


def lag_curve(snapshot: Snapshot) -> LagCurve:
    """The snapshot's lag curve, estimated once and shared by every policy that evaluates it."""
    return snapshot.index.memo(("lag_curve",), lambda: estimate_lag_curve(snapshot.conversion_revisions))
