"""What the simulator knows and the agent does not: expected returns, creative strength, incidents.

Expected figures are for an average day at the settings in force on `as_of`: no noise, no
seasonality, no learning penalty, no incidents, but with current budgets, negatives, exclusions,
the current ad mix and its fatigue. A paused ad set is valued as if it were switched back on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

from connectors.records import quantize_money
from connectors.simulator.ad_rotation import ROTATE_FOREVER
from connectors.simulator.anomalies import InjectedAnomaly
from connectors.simulator.delivery_model import (
    ad_strengths,
    can_deliver,
    fatigue_multiplier,
    fatigue_pool,
    mean_pacing,
    overlap_fractions,
)
from connectors.simulator.latent import creative_mix, profile_for
from connectors.simulator.state import AdSetRuntime, SimState, active_term_mask
from connectors.simulator.world import SimAccount, World


@dataclass
class Truth:
    """Hidden truth as of an observation day, keyed by entity id."""

    true_roas: dict[str, float] = field(default_factory=dict)  # ad set: expected value / expected spend
    true_marginal_roas: dict[str, float] = field(default_factory=dict)  # ad set: value of one more unit of budget
    expected_daily_spend: dict[str, Decimal] = field(default_factory=dict)  # ad set: 0 when it cannot deliver
    budget_limited: dict[str, bool] = field(default_factory=dict)  # ad set: more budget would be spent
    archetype: dict[str, str] = field(default_factory=dict)  # ad set: typical | loser | headroom_winner
    learning: dict[str, bool] = field(default_factory=dict)  # ad set
    audience_overlap: dict[str, float] = field(default_factory=dict)  # ad set: share of its people targeted elsewhere
    true_ctr: dict[str, float] = field(default_factory=dict)  # ad: expected CTR of a fresh impression
    creative_multiplier: dict[str, float] = field(default_factory=dict)  # ad: hidden score of its text
    fatigue_multiplier: dict[str, float] = field(default_factory=dict)  # ad: current CTR factor from fatigue
    irrelevant_search_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # Google ad group
    anomalies: list[InjectedAnomaly] = field(default_factory=list)


def _term_factors(state: SimState, runtime: AdSetRuntime) -> tuple[float, float]:
    """(CTR factor, CTR x conversion-rate factor) of the search terms that can still serve."""
    terms = runtime.ad_set.search_terms
    if not terms:
        return 1.0, 1.0
    mask = active_term_mask(state, runtime)
    if not mask.any():
        mask = np.ones(len(terms), dtype=bool)
    weights = np.array([t.impression_weight for t in terms])[mask]
    weights = weights / weights.sum()
    ctr = np.array([t.ctr_factor for t in terms])[mask]
    cvr = np.array([t.cvr_factor for t in terms])[mask]
    return float(np.dot(weights, ctr)), float(np.dot(weights, ctr * cvr))


def _demand(state: SimState, runtime: AdSetRuntime) -> float:
    latent = runtime.ad_set.latent
    terms = runtime.ad_set.search_terms
    if not terms:
        return latent.demand_cap
    weights = np.array([t.impression_weight for t in terms])
    return latent.demand_cap * float(weights[active_term_mask(state, runtime)].sum() / weights.sum())


def _account_truth(account: SimAccount, state: SimState, as_of: date, truth: Truth) -> None:
    profile = profile_for(account.platform)
    runtimes = [state.ad_sets[s.ad_set_id] for c in account.campaigns for s in c.ad_sets]
    deliverable = {r.ad_set.ad_set_id for r in runtimes if can_deliver(state, r)}
    for runtime in runtimes:
        ad_set, latent = runtime.ad_set, runtime.ad_set.latent
        ad_set_id = ad_set.ad_set_id
        truth.archetype[ad_set_id] = latent.archetype
        truth.learning[ad_set_id] = runtime.is_learning(as_of)
        ctr_terms, value_terms = _term_factors(state, runtime)
        pool = fatigue_pool(account, runtime)
        for ad in runtime.ads:
            truth.creative_multiplier[ad.ad.ad_id] = ad.ad.ctr_multiplier
            truth.true_ctr[ad.ad.ad_id] = latent.base_ctr * ad.ad.ctr_multiplier * ctr_terms
            truth.fatigue_multiplier[ad.ad.ad_id] = fatigue_multiplier(profile, ad.cumulative_impressions, pool)
        if ad_set.search_terms:
            truth.irrelevant_search_terms[ad_set_id] = tuple(t.text for t in ad_set.search_terms if not t.relevant)
        active_ads = runtime.active_ads()
        demand = _demand(state, runtime)
        if not active_ads or demand <= 0:
            truth.true_roas[ad_set_id] = truth.true_marginal_roas[ad_set_id] = 0.0
            truth.expected_daily_spend[ad_set_id] = quantize_money(Decimal(0), account.currency)
            truth.budget_limited[ad_set_id] = False
            continue
        if account.budget_on_campaign:
            campaign = state.campaigns[ad_set.campaign_id]
            siblings = [state.ad_sets[s.ad_set_id] for s in campaign.campaign.ad_sets]
            total = sum(_demand(state, r) for r in siblings if r.ad_set.ad_set_id in deliverable or r is runtime)
            available = float(campaign.daily_budget or 0) * mean_pacing(account.platform)
            spend = demand * min(1.0, available / total)
            limited = available < total
        else:
            available = float(runtime.daily_budget or 0) * mean_pacing(account.platform)
            spend = min(demand, available)
            limited = available < demand
        overlap = overlap_fractions(account, state, sorted(deliverable | {ad_set_id}))[ad_set_id]
        truth.audience_overlap[ad_set_id] = overlap
        cpm = latent.base_cpm * (spend / latent.reference_spend) ** (1.0 - latent.delivery_elasticity)
        cpm *= 1.0 + profile.overlap_cpm_penalty * overlap
        strengths = ad_strengths(account, runtime, active_ads)
        mix = creative_mix(strengths, even=runtime.ad_rotation == ROTATE_FOREVER)
        value_per_impression = (latent.base_ctr * mix * value_terms * latent.conversion_rate * latent.average_order_value
                                * runtime.segment_rate_factor * runtime.segment_value_factor)  # segments cut
        roas = 1000.0 / cpm * value_per_impression if spend > 0 else 0.0
        truth.true_roas[ad_set_id] = roas
        truth.true_marginal_roas[ad_set_id] = latent.delivery_elasticity * roas if limited else 0.0
        truth.budget_limited[ad_set_id] = limited
        expected = spend if ad_set_id in deliverable else 0.0
        truth.expected_daily_spend[ad_set_id] = quantize_money(Decimal(repr(expected)), account.currency)


def compute_truth(world: World, state: SimState, as_of: date, anomalies: list[InjectedAnomaly]) -> Truth:
    """The hidden truth of every account as of `as_of` (state must already include that day's changes)."""
    truth = Truth(anomalies=list(anomalies))
    for account in world.accounts:
        _account_truth(account, state, as_of, truth)
    return truth
