"""The ROAS posterior: quadrature agrees with sampling the model it describes."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from policies.roas_evidence import WindowEvidence, roas_posterior

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
