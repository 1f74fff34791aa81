"""How long CRM stages take to arrive after the click, as a lag curve like the platform's.

A qualified lead or an opportunity is credited to the day of its click, but the CRM reaches the stage
days or weeks later, so a recent click day looks worse than it will. It is the same problem as late
conversions (`conversion_lag`) and gets the same answer: a `LagCurve` of completeness by age, with
which policies discount the exposure of young days.

The curve comes from the account's own stage timestamps. Each stage has a delay, stage day minus
click day; a click day `A` days old shows every stage of delay < A. The chain-ladder factor of age k
is, over click days old enough to show both ages, (stages of delay <= k+1) / (stages of delay <= k),
and completeness c(k) is the product of the factors from k to maturity, c(MATURITY_DAYS) = 1. With
unit-level delays the ratio needs no per-day revision history; an age with fewer than
`MIN_STAGES_PER_AGE` stages takes its factor from a deliberately slow default (completeness rising
linearly to 1 at maturity), which makes young days count for less and pauses less likely.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from policies.conversion_lag import MATURITY_DAYS, LagCurve

MIN_STAGES_PER_AGE = 10


def _default_at(age: int) -> float:
    return min(max(age, 0), MATURITY_DAYS) / MATURITY_DAYS


def stage_lag_curve(delays: Sequence[tuple[date, date]], today: date) -> LagCurve:
    """The completeness curve of (click day, stage day) pairs known on `today` (stage day < today)."""
    ages = [((today - click).days, min(max((reached - click).days, 0), MATURITY_DAYS)) for click, reached in delays
            if reached < today]
    completeness = [1.0] * (MATURITY_DAYS + 1)
    estimated = 0
    for age in range(MATURITY_DAYS - 1, -1, -1):
        shown = [delay for cohort_age, delay in ages if cohort_age >= age + 2]
        younger = sum(1 for delay in shown if delay <= age)
        older = sum(1 for delay in shown if delay <= age + 1)
        if older >= MIN_STAGES_PER_AGE:
            ratio = younger / older
            estimated += 1
        else:
            ratio = _default_at(age) / _default_at(age + 1)
        completeness[age] = completeness[age + 1] * ratio
    source = "estimated" if estimated == MATURITY_DAYS else "partly estimated" if estimated else "default"
    return LagCurve(tuple(completeness), f"{source} from CRM stage timestamps", estimated)
