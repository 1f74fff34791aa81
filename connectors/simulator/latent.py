"""The hidden truth of each ad set: its rates, its demand curve and what kind of performer it is.

The mix is chosen so an agent has something to find: most ad sets return 1.5-4x their spend, a few
are clear losers (well under 1x) and a few are budget-limited winners whose market could absorb
several times their budget. Rates are drawn first and the conversion rate is solved so the ad set's
ROAS at its starting spend hits its archetype's target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARCHETYPES: tuple[str, ...] = ("typical", "loser", "headroom_winner")


@dataclass(frozen=True)
class PlatformProfile:
    """Typical magnitudes on a platform, in US dollars (converted to the account currency)."""

    budget_usd: tuple[float, float]
    cpm_usd: tuple[float, float]
    ctr: tuple[float, float]
    audience_size: tuple[int, int]
    fatigue_threshold: float  # cumulative impressions per person at which an ad's CTR starts to decay
    fatigue_decay: float  # log-CTR lost per unit of frequency beyond the threshold
    overlap_cpm_penalty: float  # CPM uplift when an ad set's whole audience is also targeted elsewhere


PLATFORM_PROFILES: dict[str, PlatformProfile] = {
    "google_ads": PlatformProfile((100.0, 500.0), (25.0, 60.0), (0.03, 0.07), (0, 0), 8.0, 0.05, 0.0),
    "meta": PlatformProfile((40.0, 250.0), (6.0, 14.0), (0.008, 0.02), (100_000, 1_000_000), 1.2, 0.4, 0.35),
    "linkedin": PlatformProfile((80.0, 300.0), (28.0, 50.0), (0.004, 0.008), (40_000, 400_000), 1.6, 0.3, 0.3),
}

# (ROAS at the starting spend, demand cap as a multiple of the starting spend) per archetype.
_ARCHETYPE_RANGES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "typical": ((1.5, 4.0), (0.85, 1.5)),
    "loser": ((0.3, 0.8), (1.0, 2.0)),
    "headroom_winner": ((3.5, 6.0), (2.5, 4.0)),
}


def profile_for(platform: str) -> PlatformProfile:
    """The magnitudes for `platform`; raises ValueError naming the platforms we imitate."""
    try:
        return PLATFORM_PROFILES[platform]
    except KeyError:
        raise ValueError(
            f"unknown simulated platform {platform!r}: use one of {', '.join(sorted(PLATFORM_PROFILES))}"
        ) from None


@dataclass(frozen=True)
class AdSetLatent:
    """What the simulator knows about an ad set and the agent must infer. Money in account currency."""

    archetype: str
    base_ctr: float  # CTR of an average ad (multiplier 1.0) on an average search term
    conversion_rate: float  # conversions per click before seasonality and learning
    average_order_value: float  # mean value of one conversion
    value_sigma: float  # lognormal spread of a single conversion's value
    base_cpm: float  # cost per 1000 impressions when spending `reference_spend`
    reference_spend: float  # the daily spend the ad set was calibrated at
    demand_cap: float  # the most the market lets it spend on an average day
    delivery_elasticity: float  # impressions grow like spend ** elasticity (< 1: diminishing returns)
    target_roas: float  # ROAS at reference spend when the world was built
    searcher_pool: int  # Google: people searching the theme (for creative fatigue); 0 elsewhere


def assign_archetypes(rng: np.random.Generator, count: int) -> list[str]:
    """Archetypes for an account's ad sets: a few losers, a few headroom winners, the rest typical."""
    losers = max(1, round(0.12 * count)) if count >= 3 else 0
    winners = max(1, round(0.15 * count)) if count >= 3 else 0
    kinds = ["loser"] * losers + ["headroom_winner"] * winners + ["typical"] * (count - losers - winners)
    return [kinds[int(i)] for i in rng.permutation(count)]


def draw_latent(
    rng: np.random.Generator,
    *,
    archetype: str,
    profile: PlatformProfile,
    units_per_usd: float,
    order_value_usd: tuple[float, float],
    b2b: bool,
    reference_spend: float,
    value_per_impression_factor: float,
    auction_price_factor: float = 1.0,
) -> AdSetLatent:
    """Draw an ad set's rates and solve its conversion rate for the archetype's target ROAS.

    `value_per_impression_factor` is the starting creative mix times the search-term mix (1.0 where
    there are no search terms), so the target holds for the ad set as built. `auction_price_factor`
    raises prices where buyers compete harder (B2B keywords cost several times consumer ones).
    """
    roas_range, demand_range = _ARCHETYPE_RANGES[archetype]
    target_roas = float(rng.uniform(*roas_range))
    base_ctr = float(rng.uniform(*profile.ctr))
    base_cpm = float(rng.uniform(*profile.cpm_usd)) * units_per_usd * auction_price_factor
    average_order_value = float(rng.uniform(*order_value_usd)) * units_per_usd
    conversion_rate = target_roas * base_cpm / (1000.0 * base_ctr * value_per_impression_factor * average_order_value)
    if not 0.002 <= conversion_rate <= 0.3:
        # Keep the conversion rate believable and let the price of delivery carry the target instead.
        conversion_rate = min(0.3, max(0.002, conversion_rate))
        base_cpm = 1000.0 * base_ctr * value_per_impression_factor * conversion_rate * average_order_value / target_roas
    demand_cap = reference_spend * float(rng.uniform(*demand_range))
    searcher_pool = int(demand_cap / base_cpm * 1000.0 * rng.uniform(15.0, 40.0)) if profile.audience_size[1] == 0 else 0
    return AdSetLatent(
        archetype=archetype,
        base_ctr=base_ctr,
        conversion_rate=conversion_rate,
        average_order_value=average_order_value,
        value_sigma=0.7 if b2b else 0.5,
        base_cpm=base_cpm,
        reference_spend=reference_spend,
        demand_cap=demand_cap,
        delivery_elasticity=float(rng.uniform(0.75, 0.9)),
        target_roas=target_roas,
        searcher_pool=searcher_pool,
    )



def delivery_shares(strengths: list[float], *, even: bool = False) -> list[float]:
    """How a platform splits an ad set's impressions among its ads: share proportional to strength
    squared, as delivery optimisation favours the stronger ads; equal shares when `even` (an ad
    group rotating its ads evenly)."""
    weights = [1.0 if even else s * s for s in strengths]
    total = sum(weights)
    return [w / total for w in weights] if total > 0 else weights


def creative_mix(strengths: list[float], *, even: bool = False) -> float:
    """The impression-weighted mean CTR multiplier of ads with these strengths."""
    return sum(share * s for share, s in zip(delivery_shares(strengths, even=even), strengths, strict=True))
