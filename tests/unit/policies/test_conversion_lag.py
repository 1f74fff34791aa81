"""The lag curve: chain-ladder estimate from revisions, conservative default without them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.conversion_lag import DEFAULT_CURVE, MATURITY_DAYS, estimate_lag_curve, lag_curve
from tests.unit.policies.builders import TODAY, revisions_for_curve, snapshot


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


def _truncated_geometric(unreported_at_0: float, ratio: float) -> list[float]:
    """Completeness by age of a lag whose unreported share decays geometrically, all in by maturity."""
    cut = ratio**MATURITY_DAYS
    return [1.0 - unreported_at_0 * (ratio**age - cut) / (1.0 - cut) for age in range(MATURITY_DAYS + 1)]


@pytest.mark.parametrize(("unreported_at_0", "ratio"), [(0.3, 0.6), (0.65, 0.88)])
def test_a_young_history_extrapolates_its_own_tail(unreported_at_0: float, ratio: float) -> None:
    # Twelve days of history: ages 0-5 are estimated, the tail up to 28 days is fitted from them.
    truth = _truncated_geometric(unreported_at_0, ratio)
    curve = estimate_lag_curve(revisions_for_curve(truth, days=12))
    assert curve.source == "partly estimated" and curve.estimated_ages == 6
    for age in range(MATURITY_DAYS + 1):
        assert curve.at(age) == pytest.approx(truth[age], abs=0.01), age


def test_a_consumer_lag_is_not_mistaken_for_a_long_b2b_one() -> None:
    # 70% reported the next day: the conservative default would say 35% and double yesterday's ROAS.
    truth = _truncated_geometric(0.3, 0.6)
    curve = estimate_lag_curve(revisions_for_curve(truth, days=12))
    assert curve.at(1) == pytest.approx(truth[1], abs=0.01)
    assert DEFAULT_CURVE.at(1) < 0.5 * curve.at(1) + 0.01


def test_the_lag_curve_is_estimated_once_per_snapshot_and_not_shared_with_other_revisions() -> None:
    truth = _truncated_geometric(0.3, 0.6)
    snap = snapshot([], [])
    with_history = snap.replaced(conversion_revisions=revisions_for_curve(truth, days=12))
    assert lag_curve(with_history) is lag_curve(with_history)  # every policy of one evaluation shares it
    assert lag_curve(with_history).at(1) == pytest.approx(truth[1], abs=0.01)
    assert lag_curve(snap) is DEFAULT_CURVE  # another revision history: not the memoised curve
