"""The evidence clause: the posterior probability that a comparison holds for the true value.

ROAS and CPA use the project's lag-corrected posterior (policies/roas_evidence.py): conversions are
Poisson in lag-weighted spend (young days count only for the share of conversions already reported),
the rate is shrunk towards the account's over the same window with `prior_conversions` of weight, and
counts are over-dispersed by the account's measured factor. CPA > c is the rate below 1/c. CTR is a
Beta posterior of clicks per impression, CPC a Gamma posterior of clicks per unit of spend, both shrunk
towards the account with two pseudo-clicks (clicks have no lag).
"""

from __future__ import annotations

from datetime import date, timedelta

from connectors.records import Entity
from policies.base import Snapshot
from policies.conversion_lag import lag_curve
from policies.roas_evidence import (
    WindowEvidence,
    ad_set_ids,
    collect_window,
    estimate_dispersion,
    estimate_value_cv,
    roas_posterior,
)
from policies.rules.measures import ad_sets_of, window_days

PRIOR_CLICKS = 2.0
NOISE_WINDOW_DAYS = 28


def _account_window(snapshot: Snapshot, start: date, end: date) -> WindowEvidence:
    return snapshot.index.memo(("rules_account_window", start, end), lambda: collect_window(
        snapshot, ad_set_ids(snapshot), start, end, lag_curve(snapshot)))


def _noise(snapshot: Snapshot) -> tuple[float, float]:
    """(value CV, dispersion) of the account over the last four weeks."""
    def compute() -> tuple[float, float]:
        start, end = snapshot.today - timedelta(days=NOISE_WINDOW_DAYS), snapshot.today - timedelta(days=1)
        return (estimate_value_cv(snapshot, start, end),
                estimate_dispersion(snapshot, start, end, lag_curve(snapshot)))
    return snapshot.index.memo(("rules_noise",), compute)


def probability_below(snapshot: Snapshot, entity: Entity, metric: str, window: str, threshold: float,
                      prior_conversions: float) -> float | None:
    """P(true `metric` of `entity` over `window` < `threshold`); None when the data cannot tell."""
    days = window_days(window, snapshot.today)
    curve = lag_curve(snapshot)
    own = collect_window(snapshot, ad_sets_of(snapshot, entity), days.start, days.end, curve)
    account = _account_window(snapshot, days.start, days.end)
    if own.spend <= 0 or threshold <= 0:
        return None
    from scipy.special import betainc, gammainc  # imported here: scipy costs every command start a second
    if metric in ("roas", "cpa"):
        value_cv, dispersion = _noise(snapshot)
        posterior = roas_posterior(own, account, prior_conversions, value_cv, dispersion)
        if metric == "roas":
            return posterior.probability_below(threshold)
        # CPA < c  <=>  conversions per unit of spend > 1 / c
        return 1.0 - float(gammainc(posterior.shape, posterior.rate_denominator / threshold))
    if metric == "ctr":
        if own.impressions <= 0:
            return None
        account_ctr = account.clicks / account.impressions if account.impressions and account.clicks else 0.01
        a = own.clicks + PRIOR_CLICKS
        b = own.impressions - own.clicks + PRIOR_CLICKS * (1.0 / account_ctr - 1.0)
        return float(betainc(a, max(b, 1e-9), min(threshold / 100.0, 1.0)))
    if metric == "cpc":
        account_rate = account.clicks / float(account.spend) if account.spend > 0 and account.clicks else 0.0
        shape = own.clicks + (PRIOR_CLICKS if account_rate > 0 else 0.5)
        exposure = float(own.spend) + (PRIOR_CLICKS / account_rate if account_rate > 0 else 0.0)
        # CPC < c  <=>  clicks per unit of spend > 1 / c
        return 1.0 - float(gammainc(shape, exposure / threshold))
    raise ValueError(f"no posterior for {metric!r}")


def probability_holds(snapshot: Snapshot, entity: Entity, metric: str, window: str, op: str, threshold: float,
                      prior_conversions: float) -> float | None:
    """P(true value `op` threshold) for an ordering operator; None when the data cannot tell."""
    below = probability_below(snapshot, entity, metric, window, threshold, prior_conversions)
    if below is None:
        return None
    return below if op in ("<", "<=") else 1.0 - below
