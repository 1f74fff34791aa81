"""World generation: the static structure of every simulated account, built from a seed.

A World holds what does not change by itself: accounts -> campaigns -> ad sets -> ads, Google
keywords and search-term universes, audiences as exact sets of people, and each ad set's latent
truth. What changes day to day (statuses, budgets, fatigue, learning) lives in `dynamics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property

import numpy as np

from connectors.records import AccountInfo, quantize_money
from connectors.simulator.audiences import PeopleSet, union_of
from connectors.simulator.creative import AdCreative, ctr_multiplier, generate_creative
from connectors.simulator.keywords import SearchTerm, SimKeyword, build_keywords_and_terms
from connectors.simulator.latent import (
    AdSetLatent,
    PlatformProfile,
    assign_archetypes,
    creative_mix,
    draw_latent,
    profile_for,
)
from connectors.simulator.money import nice_budget, units_per_usd
from connectors.simulator.random_streams import stream
from connectors.simulator.verticals import BUSINESS_VERTICALS, CONSUMER_VERTICALS, VERTICALS, Vertical


@dataclass(frozen=True)
class SimAccountSpec:
    """Which account to simulate and how big it is."""

    account_id: str
    platform: str  # "google_ads" | "meta" | "linkedin": the platform this account imitates
    name: str
    currency: str  # ISO code, e.g. "USD", "EUR", "GBP", "JPY"
    timezone: str  # IANA name
    campaigns: int = 3
    ad_sets_per_campaign: int = 3
    ads_per_ad_set: int = 3
    b2b: bool = False  # a business vertical whatever the platform (a B2B advertiser on Google or Meta)
    reports_value: bool = True  # False: conversions carry no value (LinkedIn lead gen, lead forms)


DEMO_SPECS: tuple[SimAccountSpec, ...] = (
    SimAccountSpec("sim-google-us", "google_ads", "Demo Search US", "USD", "America/New_York"),
    SimAccountSpec("sim-meta-de", "meta", "Demo Social DE", "EUR", "Europe/Berlin"),
    SimAccountSpec("sim-linkedin-uk", "linkedin", "Demo B2B UK", "GBP", "Europe/London"),
    SimAccountSpec("sim-google-jp", "google_ads", "Demo Search JP", "JPY", "Asia/Tokyo"),
)


@dataclass(frozen=True)
class SimAd:
    """An ad and the hidden CTR multiplier its text earns."""

    ad_id: str
    ad_set_id: str
    name: str
    creative: AdCreative
    ctr_multiplier: float


@dataclass(frozen=True)
class SimAdSet:
    """An ad set (Google: ad group; LinkedIn: campaign). `daily_budget` is None on Google."""

    ad_set_id: str
    campaign_id: str
    account_id: str
    name: str
    theme: str
    daily_budget: Decimal | None
    audience_ids: tuple[str, ...]
    ads: tuple[SimAd, ...]
    keywords: tuple[SimKeyword, ...]
    search_terms: tuple[SearchTerm, ...]
    latent: AdSetLatent

    @cached_property
    def term_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(impression weights, CTR factors, conversion-rate factors) of the search terms, for vector maths."""
        return (
            np.array([t.impression_weight for t in self.search_terms]),
            np.array([t.ctr_factor for t in self.search_terms]),
            np.array([t.cvr_factor for t in self.search_terms]),
        )


@dataclass(frozen=True)
class SimCampaign:
    """A campaign (LinkedIn: campaign group). Holds the daily budget only on Google."""

    campaign_id: str
    account_id: str
    name: str
    objective: str
    daily_budget: Decimal | None
    ad_sets: tuple[SimAdSet, ...]


@dataclass(frozen=True)
class SimAudience:
    """A targetable audience: an exact set of people on the account's line of people."""

    audience_id: str
    name: str
    people: PeopleSet

    @property
    def size(self) -> int:
        """Number of people in the audience."""
        return self.people.size


@dataclass(frozen=True)
class SimAccount:
    """One simulated ad account and everything in it."""

    spec: SimAccountSpec
    vertical: Vertical
    monthly_budget: Decimal  # what the advertiser plans to spend per calendar month (for pacing)
    campaigns: tuple[SimCampaign, ...]
    audiences: tuple[SimAudience, ...]

    @property
    def account_id(self) -> str:
        """The account's id."""
        return self.spec.account_id

    @property
    def platform(self) -> str:
        """The platform this account imitates."""
        return self.spec.platform

    @property
    def currency(self) -> str:
        """ISO currency of every amount in the account."""
        return self.spec.currency

    @property
    def budget_on_campaign(self) -> bool:
        """True where daily budgets sit on campaigns (Google), False where on ad sets."""
        return self.spec.platform == "google_ads"

    @property
    def info(self) -> AccountInfo:
        """The account as the connector describes it."""
        spec = self.spec
        return AccountInfo(spec.platform, spec.account_id, spec.name, spec.currency, spec.timezone)


@dataclass(frozen=True, eq=False)
class World:
    """The static simulated world. Compared and hashed by identity (it is used as a cache key)."""

    seed: int
    start: date
    accounts: tuple[SimAccount, ...]
    accounts_by_id: dict[str, SimAccount] = field(init=False, repr=False)
    campaigns_by_id: dict[str, SimCampaign] = field(init=False, repr=False)
    ad_sets_by_id: dict[str, SimAdSet] = field(init=False, repr=False)
    ads_by_id: dict[str, SimAd] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        campaigns = [c for a in self.accounts for c in a.campaigns]
        ad_sets = [s for c in campaigns for s in c.ad_sets]
        object.__setattr__(self, "accounts_by_id", {a.account_id: a for a in self.accounts})
        object.__setattr__(self, "campaigns_by_id", {c.campaign_id: c for c in campaigns})
        object.__setattr__(self, "ad_sets_by_id", {s.ad_set_id: s for s in ad_sets})
        object.__setattr__(self, "ads_by_id", {ad.ad_id: ad for s in ad_sets for ad in s.ads})

    def account(self, account_id: str) -> SimAccount:
        """The account with this id; raises KeyError naming the known accounts."""
        try:
            return self.accounts_by_id[account_id]
        except KeyError:
            raise KeyError(f"no simulated account {account_id!r}; known: {', '.join(self.accounts_by_id)}") from None


def union_reach(world: World, account_id: str, audience_ids: Sequence[str]) -> int:
    """Exact number of distinct people in the union of `audience_ids` of one account."""
    audiences = {audience.audience_id: audience for audience in world.account(account_id).audiences}
    unknown = [audience_id for audience_id in audience_ids if audience_id not in audiences]
    if unknown:
        raise ValueError(f"unknown audience id(s) {unknown} in account {account_id!r}")
    return union_of(audiences[audience_id].people for audience_id in audience_ids).size


def _title(text: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in text.split())


def _choose_vertical(rng: np.random.Generator, platform: str, b2b: bool = False) -> Vertical:
    options = BUSINESS_VERTICALS if b2b else {"meta": CONSUMER_VERTICALS, "linkedin": BUSINESS_VERTICALS}.get(
        platform, VERTICALS)
    return options[int(rng.integers(len(options)))]


def _own_audience_name(platform: str, theme: str, index: int) -> str:
    if platform == "linkedin":
        return f"Skills: {theme}" if index % 2 == 0 else f"Matched audience: {theme} intent"
    return f"Interest: {theme}" if index % 2 == 0 else f"Lookalike 1%: {theme} buyers"


def _build_audiences(
    rng: np.random.Generator, spec: SimAccountSpec, vertical: Vertical, profile: PlatformProfile, themes: list[str]
) -> tuple[SimAudience, ...]:
    """The vertical's shared audiences (retargeting, customer lists ...) and one audience per ad set."""
    if profile.audience_size[1] == 0:
        return ()
    low, high = profile.audience_size
    names = list(vertical.audiences) + [_own_audience_name(spec.platform, t, i) for i, t in enumerate(themes)]
    sizes = [int(rng.integers(low // 2, high // 2)) for _ in vertical.audiences]
    sizes += [int(rng.integers(low, high)) for _ in themes]
    # A line of people not much longer than the sum of sizes, so random placement yields partial overlaps.
    population = int(1.5 * sum(sizes))
    audiences = []
    for index, (name, size) in enumerate(zip(names, sizes, strict=True)):
        piece_count = int(rng.integers(1, 4))
        cuts = np.sort(rng.integers(1, size, size=piece_count - 1)) if piece_count > 1 else np.array([], dtype=int)
        lengths = np.diff(np.concatenate(([0], cuts, [size])))
        # Pieces are laid end to end from a random origin (wrapping round the line), so they never
        # overlap each other and the audience has exactly `size` people.
        cursor = int(rng.integers(0, population))
        intervals: list[tuple[int, int]] = []
        for length in lengths:
            begin = cursor % population
            first = min(int(length), population - begin)
            intervals.append((begin, begin + first))
            if first < length:
                intervals.append((0, int(length) - first))
            cursor += int(length) + int(rng.integers(0, population // 10 + 1))
        audiences.append(SimAudience(f"{spec.account_id}-aud{index + 1}", name, PeopleSet.of(intervals)))
    return tuple(audiences)


def _build_ad_set(
    seed: int,
    account: SimAccountSpec,
    vertical: Vertical,
    profile: PlatformProfile,
    own_audience: SimAudience | None,
    shared_audiences: tuple[SimAudience, ...],
    *,
    campaign_id: str,
    index: int,
    theme: str,
    archetype: str,
    daily_budget: Decimal | None,
    reference_spend: float,
    auction_price_factor: float,
) -> SimAdSet:
    ad_set_id = f"{campaign_id}-s{index + 1}"
    rng = stream(seed, ad_set_id, None, "build")
    ads = []
    for ad_index in range(account.ads_per_ad_set):
        creative = generate_creative(rng, account.platform, vertical, theme, account.currency)
        multiplier = ctr_multiplier(account.platform, creative.headlines, creative.descriptions, theme)
        ad_id = f"{ad_set_id}-a{ad_index + 1}"
        ads.append(SimAd(ad_id, ad_set_id, f"Ad {ad_index + 1}: {creative.headlines[0][:40]}", creative, multiplier))
    keywords: tuple[SimKeyword, ...] = ()
    terms: tuple[SearchTerm, ...] = ()
    term_factor = 1.0
    if account.platform == "google_ads":
        keywords, terms = build_keywords_and_terms(rng, ad_set_id, theme, vertical)
        weights = np.array([t.impression_weight for t in terms])
        effects = np.array([t.ctr_factor * t.cvr_factor for t in terms])
        term_factor = float(np.dot(weights / weights.sum(), effects))
    audience_ids: tuple[str, ...] = ()
    if own_audience is not None:
        # Its own interest or lookalike audience, and sometimes a shared one too: two ad sets that share
        # an audience bid against each other, which an exclusion can stop.
        audience_ids = (own_audience.audience_id,)
        if rng.random() < 0.4:
            audience_ids += (shared_audiences[int(rng.integers(len(shared_audiences)))].audience_id,)
    latent = draw_latent(
        rng,
        archetype=archetype,
        profile=profile,
        units_per_usd=units_per_usd(account.currency),
        order_value_usd=vertical.order_value_usd,
        b2b=vertical.b2b,
        reference_spend=reference_spend,
        value_per_impression_factor=creative_mix([ad.ctr_multiplier for ad in ads]) * term_factor,
        auction_price_factor=auction_price_factor,
    )
    names = {a.audience_id: a.name for a in (*shared_audiences, *([own_audience] if own_audience else []))}
    suffix = f" ({index // 3 + 1})" if index >= 3 else ""
    name = _title(theme) + suffix + "".join(f" | {names[a]}" for a in audience_ids)
    return SimAdSet(ad_set_id, campaign_id, account.account_id, name, theme, daily_budget, audience_ids,
                    tuple(ads), keywords, terms, latent)


def _objective(platform: str, vertical: Vertical) -> str:
    if platform == "google_ads":
        return "SEARCH"
    if platform == "linkedin":
        return "LEAD_GENERATION"
    return "OUTCOME_LEADS" if vertical.b2b else "OUTCOME_SALES"


def _build_account(seed: int, spec: SimAccountSpec) -> SimAccount:
    profile = profile_for(spec.platform)
    rng = stream(seed, spec.account_id, None, "build")
    vertical = _choose_vertical(rng, spec.platform, spec.b2b)
    archetypes = assign_archetypes(rng, spec.campaigns * spec.ad_sets_per_campaign)
    line_offset = int(rng.integers(len(vertical.product_lines)))
    lines = [vertical.product_lines[(line_offset + c) % len(vertical.product_lines)] for c in range(spec.campaigns)]
    themes = [line.themes[s % len(line.themes)] for line in lines for s in range(spec.ad_sets_per_campaign)]
    audiences = _build_audiences(rng, spec, vertical, profile, themes)
    shared_audiences = audiences[: len(vertical.audiences)] if audiences else ()
    # B2B advertisers pay several times consumer prices per click and budget accordingly.
    price_factor = 2.5 if vertical.b2b and spec.platform != "linkedin" else 1.0
    campaigns = []
    budget_total = Decimal(0)
    for c_index in range(spec.campaigns):
        line = lines[c_index]
        campaign_id = f"{spec.account_id}-c{c_index + 1}"
        repeat = c_index // len(vertical.product_lines)
        kind = {"google_ads": "Search", "meta": "Prospecting", "linkedin": "Lead Gen"}[spec.platform]
        campaign_name = f"{kind} | {line.name}" + (f" ({repeat + 1})" if repeat else "")
        campaign_budget: Decimal | None = None
        shares = rng.uniform(0.6, 1.4, size=spec.ad_sets_per_campaign)
        shares = shares / shares.sum()
        if spec.platform == "google_ads":
            campaign_budget = nice_budget(float(rng.uniform(*profile.budget_usd)) * price_factor, spec.currency)
            budget_total += campaign_budget
        ad_sets = []
        for s_index in range(spec.ad_sets_per_campaign):
            ad_set_budget: Decimal | None = None
            if campaign_budget is not None:
                reference_spend = float(campaign_budget) * float(shares[s_index])
            else:
                ad_set_budget = nice_budget(float(rng.uniform(*profile.budget_usd)) * price_factor, spec.currency)
                budget_total += ad_set_budget
                reference_spend = float(ad_set_budget)
            position = c_index * spec.ad_sets_per_campaign + s_index
            own_audience = audiences[len(vertical.audiences) + position] if audiences else None
            ad_sets.append(
                _build_ad_set(
                    seed, spec, vertical, profile, own_audience, shared_audiences,
                    campaign_id=campaign_id,
                    index=s_index,
                    theme=themes[position],
                    archetype=archetypes[position],
                    auction_price_factor=price_factor,
                    daily_budget=ad_set_budget,
                    reference_spend=reference_spend,
                )
            )
        campaigns.append(SimCampaign(campaign_id, spec.account_id, campaign_name, _objective(spec.platform, vertical),
                                     campaign_budget, tuple(ad_sets)))
    planned_month = float(budget_total) * 30.4 * float(rng.uniform(0.9, 1.1))
    step = 10 ** max(0, len(str(int(planned_month))) - 3)
    monthly_budget = quantize_money(Decimal(max(step, round(planned_month / step) * step)), spec.currency)
    return SimAccount(spec, vertical, monthly_budget, tuple(campaigns), audiences)


def build_world(seed: int, specs: Sequence[SimAccountSpec], start: date) -> World:
    """Build the static world for `specs`; the same seed and specs always give the same world.

    Each account and ad set draws from its own stream, so adding an account leaves the others as they were.
    """
    ids = [spec.account_id for spec in specs]
    duplicates = sorted({account_id for account_id in ids if ids.count(account_id) > 1})
    if duplicates:
        raise ValueError(f"duplicate simulated account id(s): {', '.join(duplicates)}")
    for spec in specs:
        profile_for(spec.platform)
        if min(spec.campaigns, spec.ad_sets_per_campaign, spec.ads_per_ad_set) < 1:
            raise ValueError(f"account {spec.account_id!r}: campaigns, ad sets and ads per parent must be >= 1")
    return World(seed, start, tuple(_build_account(seed, spec) for spec in specs))
