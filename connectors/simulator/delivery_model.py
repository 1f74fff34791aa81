"""The delivery model's constants and the per-entity rules shared by the daily engine and the truth.

Kept apart from the vectorised engine so the truth (expected values without noise) is computed
from exactly the same rules as the simulated data.
"""

from __future__ import annotations

import math

from connectors.simulator.audiences import union_of
from connectors.simulator.latent import PlatformProfile, profile_for
from connectors.simulator.state import AdRuntime, AdSetRuntime, SimState, active_term_mask, targeted_people
from connectors.simulator.world import SimAccount

DEMAND_NOISE = 0.12  # lognormal sigma of the market's daily demand
IMPRESSION_NOISE = 0.08  # ... of impressions bought per unit of spend (auction prices)
CTR_NOISE = 0.06
CONVERSION_RATE_NOISE = 0.10
# Share of a budget actually spent when demand exceeds it: (low, high) of a uniform draw per day.
PACING: dict[str, tuple[float, float]] = {"google_ads": (0.95, 1.0), "meta": (0.92, 1.02), "linkedin": (0.92, 1.02)}
LEARNING_CPM_FACTOR = 1.15  # while learning, delivery buys dearer impressions ...
LEARNING_CONVERSION_RATE_FACTOR = 0.8  # ... that convert less
FATIGUE_FLOOR = 0.35  # fatigue never cuts an ad's CTR below this share


def mean_pacing(platform: str) -> float:
    """The average share of a binding budget that gets spent."""
    low, high = PACING[platform]
    return (low + high) / 2


def fatigue_multiplier(profile: PlatformProfile, cumulative_impressions: float, pool: float) -> float:
    """An ad's CTR factor once each person has seen it `cumulative_impressions / pool` times on average."""
    excess = cumulative_impressions / max(pool, 1.0) - profile.fatigue_threshold
    return 1.0 if excess <= 0 else max(FATIGUE_FLOOR, math.exp(-profile.fatigue_decay * excess))


def fatigue_pool(account: SimAccount, runtime: AdSetRuntime) -> int:
    """People an ad set's ads are shown to over and over: its targeted audience, or Google searchers."""
    if account.platform == "google_ads":
        return runtime.ad_set.latent.searcher_pool
    return max(1, targeted_people(account, runtime).size)


def ad_strengths(account: SimAccount, runtime: AdSetRuntime, ads: list[AdRuntime]) -> list[float]:
    """Each ad's CTR multiplier times its fatigue: what the platform's ad rotation rewards."""
    profile = profile_for(account.platform)
    pool = fatigue_pool(account, runtime)
    return [ad.ad.ctr_multiplier * fatigue_multiplier(profile, ad.cumulative_impressions, pool) for ad in ads]


def can_deliver(state: SimState, runtime: AdSetRuntime) -> bool:
    """Whether the ad set can serve at all: itself and its campaign active, with an active ad (and term)."""
    if runtime.status != "ACTIVE" or state.campaigns[runtime.ad_set.campaign_id].status != "ACTIVE":
        return False
    if not any(ad.status == "ACTIVE" for ad in runtime.ads):
        return False
    return not runtime.ad_set.search_terms or bool(active_term_mask(state, runtime).any())


def overlap_fractions(account: SimAccount, state: SimState, ad_set_ids: list[str]) -> dict[str, float]:
    """Share of each ad set's people also targeted by another of `ad_set_ids` (same account).

    Ad sets that share people bid against each other; the engine charges them a higher CPM for it.
    """
    if not account.audiences:
        return {ad_set_id: 0.0 for ad_set_id in ad_set_ids}
    key = tuple(sorted((a, tuple(sorted(state.ad_sets[a].excluded_audience_ids))) for a in ad_set_ids))
    cached = state.overlap_cache.get(key)
    if cached is None:
        people = {a: targeted_people(account, state.ad_sets[a]) for a in ad_set_ids}
        cached = {}
        for ad_set_id, own in people.items():
            others = union_of(p for other, p in people.items() if other != ad_set_id)
            cached[ad_set_id] = own.intersection(others).size / own.size if own.size else 0.0
        state.overlap_cache[key] = cached
    return cached
