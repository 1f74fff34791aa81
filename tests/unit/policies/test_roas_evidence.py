"""The ROAS posterior: quadrature agrees with sampling the model it describes."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from policies.roas_evidence import WindowEvidence, estimate_value_prior_weight, roas_posterior, window_bounds
from tests.unit.policies.builders import TODAY, entity, rows, snapshot

DAY = date(2024, 3, 1)


def _window(spend: float, conversions: float, value: float) -> WindowEvidence:
    return WindowEvidence(DAY, DAY, Decimal(str(spend)), spend, conversions, Decimal(str(value)), 0, 0, 28, spend)


ACCOUNT = _window(10_000, 100, 25_000)


def _sampled_roas(window: WindowEvidence, prior_conversions: float, value_cv: float, dispersion: float) -> np.ndarray:
    """Monte Carlo draws of the same model, written out independently of the implementation."""
    rng = np.random.default_rng(7)
    prior_rate = ACCOUNT.conversions / ACCOUNT.exposure
    shape = (window.conversions + prior_conversions) / dispersion
    rate = (window.exposure + prior_conversions / prior_rate) / dispersion
    weights = prior_conversions + window.conversions
    centre = (prior_conversions * math.log(250.0) + window.conversions * math.log(
        float(window.conversion_value) / window.conversions)) / weights
    scale = value_cv / math.sqrt(weights)
    values = np.exp(centre - scale * scale / 2 + scale * rng.standard_normal(400_000))
    return rng.gamma(shape, 1.0 / rate, size=400_000) * values


@pytest.mark.parametrize(("spend", "conversions", "value", "cv", "dispersion"),
                         [(1000, 10, 1500, 1.0, 1.2), (2500, 3, 1400, 0.7, 1.0), (800, 40, 3000, 2.5, 1.5)])
def test_probability_mean_and_interval_match_sampling(spend: float, conversions: float, value: float,
                                                      cv: float, dispersion: float) -> None:
    window = _window(spend, conversions, value)
    posterior = roas_posterior(window, ACCOUNT, 2.0, cv, dispersion)
    draws = _sampled_roas(window, 2.0, cv, dispersion)
    for target in (0.5, 1.0, 2.0, 3.0):
        assert posterior.probability_below(target) == pytest.approx(float(np.mean(draws < target)), abs=0.004)
    assert posterior.mean == pytest.approx(float(np.mean(draws)), rel=0.01)
    assert posterior.low == pytest.approx(float(np.quantile(draws, 0.05)), rel=0.02)
    assert posterior.high == pytest.approx(float(np.quantile(draws, 0.95)), rel=0.02)


def test_an_ad_set_whose_account_never_recorded_value_returns_nothing() -> None:
    no_value = _window(10_000, 0, 0)
    posterior = roas_posterior(_window(500, 0, 0), no_value, 2.0, 1.0)
    assert posterior.mean == 0.0 and posterior.high == 0.0
    assert posterior.probability_below(0.01) == 1.0


def _value_account(values_per_conversion: list[float]):
    ids = [f"s{i}" for i in range(len(values_per_conversion))]
    data = [row for entity_id, value in zip(ids, values_per_conversion, strict=True)
            for row in rows(entity_id, 28, spend=100, conversions=2, value=2 * value)]
    return snapshot([entity(i) for i in ids], data)


def test_the_empirical_value_prior_is_strong_where_ad_sets_sell_alike_and_weak_where_they_do_not() -> None:
    start, end = window_bounds(TODAY, 28)
    alike = estimate_value_prior_weight(_value_account([100, 104, 97, 101, 99]), start, end, 0.6, (2.0, 25.0))
    assert alike == 25.0  # the spread is all sampling noise: the bound
    apart = estimate_value_prior_weight(_value_account([40, 400, 90, 1500, 150]), start, end, 0.6, (2.0, 25.0))
    assert apart == 2.0  # values a factor of 40 apart: the account says little about one ad set
    some = estimate_value_prior_weight(_value_account([70, 140, 100, 85, 120]), start, end, 0.6, (0.1, 1000.0))
    assert some is not None and 2.0 < some < 25.0
    assert estimate_value_prior_weight(_value_account([100, 100]), start, end, 0.6, (2.0, 25.0)) is None


def test_a_stronger_value_prior_narrows_a_low_volume_ad_sets_posterior() -> None:
    # two conversions at the account's 100 each, on a conversion rate an eighth of the account's: with
    # two conversions' worth of value prior, a lucky high value per conversion stays possible
    account = WindowEvidence(date(2024, 1, 1), date(2024, 1, 28), Decimal(28000), 28000.0, 560.0,
                             Decimal(56000), 0, 0, 28, 28000.0)
    loser = WindowEvidence(date(2024, 1, 1), date(2024, 1, 28), Decimal(800), 800.0, 2.0, Decimal(200), 0, 0, 8,
                           800.0)
    weak = roas_posterior(loser, account, 2.0, 0.6)
    strong = roas_posterior(loser, account, 2.0, 0.6, value_prior_conversions=20.0)
    assert strong.probability_below(1.8) > weak.probability_below(1.8)
    assert strong.log_value_scale < weak.log_value_scale
