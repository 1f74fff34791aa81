"""The mutable side of the simulation: live statuses, budgets, negatives, exclusions, new ads,
learning phases and each ad's accumulated impressions, plus how mutations change them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import numpy as np

from connectors.errors import InvalidMutation
from connectors.records import Status, quantize_money
from connectors.simulator.ad_rotation import OPTIMIZE, requested_rotation
from connectors.simulator.audiences import PeopleSet, union_of
from connectors.simulator.creative import AdCreative, ctr_multiplier
from connectors.simulator.keywords import NegativeKeyword, negative_blocks
from connectors.simulator.segment_actions import (
    CAMPAIGN_LEVEL_KINDS,
    SEGMENT_KINDS,
    SegmentSettings,
    apply_segment_change,
    delivery_factors,
)
from connectors.simulator.world import SimAccount, SimAd, SimAdSet, SimCampaign, World

LEARNING_DAYS = 7  # a learning phase ends after this many days ...
LEARNING_CONVERSIONS = 50  # ... or once this many conversions were recorded since it began
LEARNING_BUDGET_CHANGE = 0.2  # relative budget change that restarts learning


@dataclass(frozen=True)
class AppliedMutation:
    """A change accepted by the simulated platform, acting on delivery from `effective_day` on."""

    kind: str  # "pause" | "enable" | "set_budget" | "add_negative_keywords" | "exclude_audience" | "new_ad" | labels
    account_id: str
    entity_id: str
    params: Mapping[str, Any]
    effective_day: date


@dataclass
class AdRuntime:
    """An ad's live state."""

    ad: SimAd
    status: Status = "ACTIVE"
    created: date | None = None  # None for ads that exist when the world starts
    last_changed: date | None = None
    cumulative_impressions: int = 0


@dataclass
class AdSetRuntime:
    """An ad set's live state; cached derived values are dropped whenever a mutation touches it."""

    ad_set: SimAdSet
    status: Status = "ACTIVE"
    daily_budget: Decimal | None = None
    last_changed: date | None = None
    ads: list[AdRuntime] = field(default_factory=list)
    keyword_status: dict[str, Status] = field(default_factory=dict)
    keyword_last_changed: dict[str, date] = field(default_factory=dict)
    negatives: list[NegativeKeyword] = field(default_factory=list)
    excluded_audience_ids: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    ad_schedule: list[dict[str, Any]] = field(default_factory=list)  # Meta-style ad set schedule (running hours)
    ad_rotation: str = OPTIMIZE  # Google ad group ad rotation (connectors/simulator/ad_rotation.py)
    segments: SegmentSettings = field(default_factory=SegmentSettings)
    # the segment exclusions' effect on the ad set's conversion rate and value per conversion
    segment_rate_factor: float = 1.0
    segment_value_factor: float = 1.0
    learning_since: date | None = None
    learning_conversions: int = 0
    cached_term_mask: np.ndarray | None = None
    cached_people: PeopleSet | None = None

    def is_learning(self, day: date) -> bool:
        """Whether the ad set is in a learning phase on `day`."""
        since = self.learning_since
        return (
            since is not None
            and since <= day < since + timedelta(days=LEARNING_DAYS)
            and self.learning_conversions < LEARNING_CONVERSIONS
        )

    def start_learning(self, day: date) -> None:
        """(Re)start the learning phase from `day`."""
        self.learning_since = day
        self.learning_conversions = 0

    def active_ads(self) -> list[AdRuntime]:
        """Ads that can serve (existing and ACTIVE)."""
        return [ad for ad in self.ads if ad.status == "ACTIVE"]


@dataclass
class CampaignRuntime:
    """A campaign's live state."""

    campaign: SimCampaign
    status: Status = "ACTIVE"
    daily_budget: Decimal | None = None
    last_changed: date | None = None
    negatives: list[NegativeKeyword] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    ad_schedule: list[dict[str, Any]] = field(default_factory=list)  # Google-style ad schedule criteria


@dataclass
class SimState:
    """Everything that changes over a simulation run. `copy()` gives an independent branch."""

    campaigns: dict[str, CampaignRuntime]
    ad_sets: dict[str, AdSetRuntime]
    ad_owner: dict[str, str]
    keyword_owner: dict[str, str]
    overlap_cache: dict[tuple[Any, ...], dict[str, float]] = field(default_factory=dict)

    def copy(self) -> SimState:
        """An independent copy (lists and runtimes copied; immutable world objects shared)."""
        ad_sets = {
            ad_set_id: dataclasses.replace(
                runtime,
                ads=[dataclasses.replace(ad) for ad in runtime.ads],
                keyword_status=dict(runtime.keyword_status),
                keyword_last_changed=dict(runtime.keyword_last_changed),
                negatives=list(runtime.negatives),
                excluded_audience_ids=list(runtime.excluded_audience_ids),
                labels=list(runtime.labels),
                ad_schedule=list(runtime.ad_schedule),
                segments=runtime.segments.copy(),
            )
            for ad_set_id, runtime in self.ad_sets.items()
        }
        campaigns = {
            campaign_id: dataclasses.replace(runtime, negatives=list(runtime.negatives), labels=list(runtime.labels),
                                             ad_schedule=list(runtime.ad_schedule))
            for campaign_id, runtime in self.campaigns.items()
        }
        # The overlap cache is keyed by everything it depends on, so branches can share it.
        return SimState(campaigns, ad_sets, dict(self.ad_owner), dict(self.keyword_owner), self.overlap_cache)


def initial_state(world: World) -> SimState:
    """The live state on the world's first day: everything ACTIVE, budgets as built, nothing learning."""
    campaigns: dict[str, CampaignRuntime] = {}
    ad_sets: dict[str, AdSetRuntime] = {}
    for campaign in world.campaigns_by_id.values():
        campaigns[campaign.campaign_id] = CampaignRuntime(campaign, daily_budget=campaign.daily_budget)
        for ad_set in campaign.ad_sets:
            ad_sets[ad_set.ad_set_id] = AdSetRuntime(
                ad_set,
                daily_budget=ad_set.daily_budget,
                ads=[AdRuntime(ad) for ad in ad_set.ads],
                keyword_status={keyword.keyword_id: "ACTIVE" for keyword in ad_set.keywords},
            )
    ad_owner = {ad.ad_id: ad.ad_set_id for ad in world.ads_by_id.values()}
    keyword_owner = {k.keyword_id: s.ad_set_id for s in world.ad_sets_by_id.values() for k in s.keywords}
    return SimState(campaigns, ad_sets, ad_owner, keyword_owner)


def active_term_mask(state: SimState, runtime: AdSetRuntime) -> np.ndarray:
    """Which of a Google ad group's search terms can still serve (keyword active, no negative blocks it)."""
    if runtime.cached_term_mask is None:
        negatives = runtime.negatives + state.campaigns[runtime.ad_set.campaign_id].negatives
        runtime.cached_term_mask = np.array(
            [
                runtime.keyword_status.get(term.keyword_id) == "ACTIVE"
                and not any(negative_blocks(term.text, negative) for negative in negatives)
                for term in runtime.ad_set.search_terms
            ],
            dtype=bool,
        )
    return runtime.cached_term_mask


def targeted_people(account: SimAccount, runtime: AdSetRuntime) -> PeopleSet:
    """The people an ad set can reach: its audiences minus its exclusions."""
    if runtime.cached_people is None:
        audiences = {audience.audience_id: audience.people for audience in account.audiences}
        targeted = union_of(audiences[a] for a in runtime.ad_set.audience_ids)
        excluded = union_of(audiences[a] for a in runtime.excluded_audience_ids)
        runtime.cached_people = targeted.difference(excluded)
    return runtime.cached_people


def _ad_sets_under(state: SimState, world: World, entity_id: str) -> list[AdSetRuntime]:
    if entity_id in state.campaigns:
        return [state.ad_sets[s.ad_set_id] for s in world.campaigns_by_id[entity_id].ad_sets]
    if entity_id in state.ad_sets:
        return [state.ad_sets[entity_id]]
    if entity_id in state.ad_owner:
        return [state.ad_sets[state.ad_owner[entity_id]]]
    return []


def _set_status(world: World, state: SimState, mutation: AppliedMutation, status: Status, day: date) -> None:
    entity_id = mutation.entity_id
    if entity_id in state.campaigns:
        runtime: CampaignRuntime | AdSetRuntime | AdRuntime = state.campaigns[entity_id]
    elif entity_id in state.ad_sets:
        runtime = state.ad_sets[entity_id]
    elif entity_id in state.ad_owner:
        owner = state.ad_sets[state.ad_owner[entity_id]]
        runtime = next(ad for ad in owner.ads if ad.ad.ad_id == entity_id)
    else:
        owner = state.ad_sets[state.keyword_owner[entity_id]]
        owner.keyword_status[entity_id] = status
        owner.keyword_last_changed[entity_id] = day
        owner.cached_term_mask = None
        return
    was_paused = runtime.status == "PAUSED"
    runtime.status = status
    runtime.last_changed = day
    if status == "ACTIVE" and was_paused:
        for ad_set in _ad_sets_under(state, world, entity_id):
            ad_set.start_learning(day)


def _parse_budget(raw: object, currency: str, entity_id: str) -> Decimal:
    try:
        budget = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidMutation(f"set_budget on {entity_id}: daily_budget {raw!r} is not a number") from None
    if not budget.is_finite() or budget <= 0:
        raise InvalidMutation(f"set_budget on {entity_id}: daily_budget must be positive, got {raw!r}")
    # Like the platforms' minor-unit APIs, extra decimals are rounded away rather than refused.
    return quantize_money(budget, currency)


def _set_budget(world: World, state: SimState, account: SimAccount, mutation: AppliedMutation, day: date) -> None:
    entity_id = mutation.entity_id
    holder: CampaignRuntime | AdSetRuntime | None = (
        state.campaigns.get(entity_id) if account.budget_on_campaign else state.ad_sets.get(entity_id)
    )
    if holder is None:
        level = "campaign" if account.budget_on_campaign else "ad set"
        raise InvalidMutation(f"set_budget on {entity_id}: budgets in {account.account_id} are set per {level}")
    budget = _parse_budget(mutation.params.get("daily_budget"), account.currency, entity_id)
    previous = holder.daily_budget or budget
    holder.daily_budget = budget
    holder.last_changed = day
    if abs(float(budget / previous) - 1.0) > LEARNING_BUDGET_CHANGE:
        for ad_set in _ad_sets_under(state, world, entity_id):
            ad_set.start_learning(day)


def _add_negatives(state: SimState, account: SimAccount, mutation: AppliedMutation, day: date) -> None:
    entity_id = mutation.entity_id
    if account.platform != "google_ads":
        raise InvalidMutation(f"add_negative_keywords on {entity_id}: only Google-style accounts have keywords")
    keywords = mutation.params.get("keywords")
    if not isinstance(keywords, list | tuple) or not keywords:
        raise InvalidMutation(f"add_negative_keywords on {entity_id}: params.keywords must be a non-empty list")
    list_name = str(mutation.params.get("list_name", ""))
    negatives = []
    for keyword in keywords:
        text = str(keyword.get("text", "")).strip() if isinstance(keyword, Mapping) else ""
        match_type = str(keyword.get("match_type", "")).upper() if isinstance(keyword, Mapping) else ""
        if not text or match_type not in {"EXACT", "PHRASE", "BROAD"}:
            raise InvalidMutation(
                f"add_negative_keywords on {entity_id}: each keyword needs text and match_type EXACT/PHRASE/BROAD, got {keyword!r}"
            )
        negatives.append(NegativeKeyword(text, match_type, list_name))
    target: CampaignRuntime | AdSetRuntime | None = state.campaigns.get(entity_id) or state.ad_sets.get(entity_id)
    if target is None:
        raise InvalidMutation(f"add_negative_keywords on {entity_id}: not a campaign or ad group")
    target.negatives.extend(n for n in negatives if n not in target.negatives)
    target.last_changed = day
    campaign_id = entity_id if entity_id in state.campaigns else state.ad_sets[entity_id].ad_set.campaign_id
    for ad_set in state.campaigns[campaign_id].campaign.ad_sets:
        state.ad_sets[ad_set.ad_set_id].cached_term_mask = None


def _exclude_audience(state: SimState, account: SimAccount, mutation: AppliedMutation, day: date) -> None:
    runtime = state.ad_sets.get(mutation.entity_id)
    audience_id = str(mutation.params.get("audience_id", ""))
    if runtime is None:
        raise InvalidMutation(f"exclude_audience on {mutation.entity_id}: exclusions are set on ad sets")
    if audience_id not in {audience.audience_id for audience in account.audiences}:
        raise InvalidMutation(f"exclude_audience on {mutation.entity_id}: unknown audience {audience_id!r}")
    if mutation.kind == "remove_audience_exclusion":
        if audience_id in runtime.excluded_audience_ids:
            runtime.excluded_audience_ids.remove(audience_id)
    elif audience_id not in runtime.excluded_audience_ids:
        runtime.excluded_audience_ids.append(audience_id)
    runtime.last_changed = day
    runtime.cached_people = None


def _set_label(state: SimState, account: SimAccount, mutation: AppliedMutation) -> None:
    """Labels (Google Ads labels, Meta ad labels) on campaigns and ad sets; LinkedIn has none. A label
    changes nothing in delivery, so it starts no learning phase and is not a `last_changed`."""
    if account.platform == "linkedin":
        raise InvalidMutation(f"{mutation.kind} on {mutation.entity_id}: LinkedIn has no labels")
    label = str(mutation.params.get("label", "")).strip()
    if not label or len(label) > 80:
        raise InvalidMutation(f"{mutation.kind} on {mutation.entity_id}: params.label must be 1..80 characters")
    target: CampaignRuntime | AdSetRuntime | None = (state.campaigns.get(mutation.entity_id)
                                                     or state.ad_sets.get(mutation.entity_id))
    if target is None:
        raise InvalidMutation(f"{mutation.kind} on {mutation.entity_id}: labels are set on campaigns and ad sets")
    if mutation.kind == "add_label" and label not in target.labels:
        target.labels.append(label)
    elif mutation.kind == "remove_label" and label in target.labels:
        target.labels.remove(label)


def _set_ad_schedule(state: SimState, account: SimAccount, mutation: AppliedMutation) -> None:
    """A campaign's ad schedule (Google) or an ad set's (Meta, only with a lifetime budget: the simulated
    ad sets all have daily budgets, so Meta-style schedules are refused as Meta refuses them). The
    simulation is daily, so a schedule is kept and reported but does not change delivery."""
    blocks = mutation.params.get("ad_schedule")
    if not isinstance(blocks, list) or not all(isinstance(b, Mapping) for b in blocks):
        raise InvalidMutation(f"set_ad_schedule on {mutation.entity_id}: params.ad_schedule must be a list of blocks")
    for block in blocks:
        if (block.get("day") not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                or not 0 <= int(block.get("start_hour", -1)) < int(block.get("end_hour", -1)) <= 24):
            raise InvalidMutation(f"set_ad_schedule on {mutation.entity_id}: bad block {dict(block)!r}")
    if account.platform == "google_ads":
        target: CampaignRuntime | AdSetRuntime | None = state.campaigns.get(mutation.entity_id)
        if target is None:
            raise InvalidMutation(f"set_ad_schedule on {mutation.entity_id}: ad schedules are campaign criteria")
    elif account.platform == "meta":
        runtime = state.ad_sets.get(mutation.entity_id)
        if runtime is None:
            raise InvalidMutation(f"set_ad_schedule on {mutation.entity_id}: Meta schedules are set on ad sets")
        raise InvalidMutation(f"set_ad_schedule on {mutation.entity_id}: adset_schedule needs a lifetime budget")
    else:
        raise InvalidMutation(f"set_ad_schedule on {mutation.entity_id}: LinkedIn has no ad schedules")
    target.ad_schedule = [dict(b) for b in blocks]


def _set_ad_rotation(state: SimState, account: SimAccount, mutation: AppliedMutation, day: date) -> None:
    mode = requested_rotation(account.platform, mutation.entity_id, mutation.params)
    runtime = state.ad_sets.get(mutation.entity_id)
    if runtime is None:
        raise InvalidMutation(f"set_ad_rotation on {mutation.entity_id}: ad rotation is set on ad groups")
    runtime.ad_rotation = mode  # which ads are shown, not bidding: no learning phase, not a `last_changed`


def _set_segment(world: World, state: SimState, account: SimAccount, mutation: AppliedMutation, day: date) -> None:
    runtime = state.ad_sets.get(mutation.entity_id)
    if runtime is None:
        raise InvalidMutation(f"{mutation.kind} on {mutation.entity_id}: segment settings belong to ad sets")
    targets = [runtime]
    if mutation.kind in CAMPAIGN_LEVEL_KINDS:  # a campaign's location criterion: every ad set of the campaign
        targets = [state.ad_sets[s.ad_set_id] for s in world.campaigns_by_id[runtime.ad_set.campaign_id].ad_sets]
    updated = []
    for target in targets:  # all or none: a refusal for one ad set refuses the change
        settings = target.segments.copy()
        apply_segment_change(settings, account.platform, account.currency, mutation.kind, target.ad_set.ad_set_id,
                             mutation.params)
        updated.append((target, settings))
    for target, settings in updated:
        target.segments = settings
        target.segment_rate_factor, target.segment_value_factor = delivery_factors(
            world.seed, target.ad_set.ad_set_id, account.currency, settings.excluded)
        target.last_changed = day


def _new_ad(state: SimState, account: SimAccount, mutation: AppliedMutation, day: date) -> None:
    params = mutation.params
    ad_set_id = str(params.get("ad_set_id") or mutation.entity_id)
    runtime = state.ad_sets.get(ad_set_id)
    if runtime is None or runtime.ad_set.account_id != account.account_id:
        raise InvalidMutation(f"new_ad: {ad_set_id!r} is not an ad set of {account.account_id}")
    headlines = tuple(str(h) for h in params.get("headlines") or [params.get("headline", "")] if str(h).strip())
    descriptions = tuple(str(d) for d in params.get("descriptions") or [params.get("description", "")] if str(d).strip())
    if not headlines or not descriptions:
        raise InvalidMutation(f"new_ad in {ad_set_id}: a headline and a description are required")
    status = str(params.get("status", "ACTIVE")).upper()
    if status not in {"ACTIVE", "PAUSED"}:
        raise InvalidMutation(f"new_ad in {ad_set_id}: status must be ACTIVE or PAUSED, got {status!r}")
    ad_id = str(params.get("new_ad_id") or f"{ad_set_id}-a{len(runtime.ads) + 1}")
    if ad_id in state.ad_owner:
        raise InvalidMutation(f"new_ad in {ad_set_id}: ad id {ad_id!r} already exists")
    call_to_action = params.get("call_to_action")
    creative = AdCreative(headlines, descriptions, str(call_to_action) if call_to_action else None)
    multiplier = ctr_multiplier(account.platform, headlines, descriptions, runtime.ad_set.theme)
    ad = SimAd(ad_id, ad_set_id, str(params.get("name") or f"New ad: {headlines[0][:40]}"), creative, multiplier)
    runtime.ads.append(AdRuntime(ad, status=cast(Status, status), created=day, last_changed=day))
    state.ad_owner[ad_id] = ad_set_id
    runtime.last_changed = day
    if status == "ACTIVE":
        runtime.start_learning(day)


def _account_of(state: SimState, entity_id: str) -> str | None:
    if entity_id in state.campaigns:
        return state.campaigns[entity_id].campaign.account_id
    ad_set_id = entity_id if entity_id in state.ad_sets else (
        state.ad_owner.get(entity_id) or state.keyword_owner.get(entity_id)
    )
    return state.ad_sets[ad_set_id].ad_set.account_id if ad_set_id else None


def apply_mutation(world: World, state: SimState, mutation: AppliedMutation, day: date) -> None:
    """Apply `mutation` to `state` as of `day`; raises InvalidMutation if the platform would refuse it."""
    account = world.accounts_by_id.get(mutation.account_id)
    if account is None:
        raise InvalidMutation(f"{mutation.kind}: unknown account {mutation.account_id!r}")
    if not isinstance(mutation.params, Mapping):
        raise InvalidMutation(f"{mutation.kind} on {mutation.entity_id}: params must be a mapping")
    if _account_of(state, mutation.entity_id) != account.account_id:
        raise InvalidMutation(f"{mutation.kind}: no entity {mutation.entity_id!r} in account {account.account_id}")
    if mutation.kind in ("pause", "enable"):
        _set_status(world, state, mutation, "PAUSED" if mutation.kind == "pause" else "ACTIVE", day)
    elif mutation.kind == "set_budget":
        _set_budget(world, state, account, mutation, day)
    elif mutation.kind == "add_negative_keywords":
        _add_negatives(state, account, mutation, day)
    elif mutation.kind in ("exclude_audience", "remove_audience_exclusion"):
        _exclude_audience(state, account, mutation, day)
    elif mutation.kind == "new_ad":
        _new_ad(state, account, mutation, day)
    elif mutation.kind in ("add_label", "remove_label"):
        _set_label(state, account, mutation)
    elif mutation.kind == "set_ad_schedule":
        _set_ad_schedule(state, account, mutation)
    elif mutation.kind == "set_ad_rotation":
        _set_ad_rotation(state, account, mutation, day)
    elif mutation.kind in SEGMENT_KINDS:
        _set_segment(world, state, account, mutation, day)
    else:
        raise InvalidMutation(f"unknown mutation kind {mutation.kind!r}")
