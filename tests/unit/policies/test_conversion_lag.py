"""The lag curve: chain-ladder estimate from revisions, conservative default without them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.conversion_lag import DEFAULT_CURVE, MATURITY_DAYS, estimate_lag_curve
from tests.unit.policies.builders import TODAY, revisions_for_curve


def test_without_revisions_the_default_curve_is_used() -> None:
    curve = estimate_lag_curve([])
    assert curve is DEFAULT_CURVE
    assert curve.source == "default"
    assert curve.at(1) == pytest.approx(0.35)  # conservative: a long, B2B-like lag
    assert curve.at(MATURITY_DAYS) == 1.0 and curve.at(90) == 1.0


def test_default_curve_is_monotone_and_ends_complete() -> None:
    values = [DEFAULT_CURVE.at(age) for age in range(MATURITY_DAYS + 1)]
    assert values == sorted(values)
    assert values[-1] == 1.0


def test_chain_ladder_recovers_a_known_curve() -> None:
    # An account that reports 40% on day 0, 70% at age 1, 90% at 2, 100% from age 3 on.
    truth = [0.4, 0.7, 0.9] + [1.0] * (MATURITY_DAYS - 2)
    curve = estimate_lag_curve(revisions_for_curve(truth, days=45))
    assert curve.source == "estimated"
    for age, expected in enumerate(truth):
        assert curve.at(age) == pytest.approx(expected, rel=1e-9)


def test_ages_with_too_little_evidence_fall_back_to_default_factors() -> None:
    # Only 10 days of history: ages beyond 9 are never seen at both k and k+1 on 7 days.
    truth = [0.4, 0.7, 0.9] + [1.0] * (MATURITY_DAYS - 2)
    curve = estimate_lag_curve(revisions_for_curve(truth, days=10))
    assert curve.source == "partly estimated"
    # Young ages keep the estimated development (0.7 -> 0.9 is a factor 9/7) ...
    assert curve.at(2) / curve.at(1) == pytest.approx(0.9 / 0.7, rel=1e-9)
    # ... but completeness is below the truth because the default assumes a long tail.
    assert curve.at(3) < 1.0


def test_for_day_uses_the_age_relative_to_today() -> None:
    curve = estimate_lag_curve([])
    assert curve.for_day(TODAY - timedelta(days=1), TODAY) == curve.at(1)
