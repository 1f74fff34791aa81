"""Segment actions on the simulated platforms: a Google device bid modifier or age range, gender or
location exclusion; a Meta placement or region exclusion or age range narrowed at an edge; a LinkedIn
company-size, seniority, industry or job-function exclusion.

Google targets locations on the campaign, not the ad group: `exclude_location` names one ad set
(the action's entity) and acts on every ad set of its campaign (`CAMPAIGN_LEVEL_KINDS`), so the
region's delivery stops for the whole campaign.

A cut segment stops delivering and the ad set's budget goes to the segments it keeps, at their own
rates (`exclusion_effect`): the ad set's conversion rate and value per conversion change by the
effect's factors from the day the change acts, and its breakdown rows split the day's totals over
the kept segments only (`restricted`), so segments still sum to the totals. As Smart Bidding does,
Google keeps only a -100% device modifier in mind: a milder one is stored and shown, and changes
nothing in delivery.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from connectors.errors import InvalidMutation
from connectors.simulator.segments import exclusion_effect, profiles_for, segment_truth

# kind -> (platform it exists on, dimension it acts on)
SEGMENT_KINDS: Mapping[str, tuple[str, str]] = {
    "set_device_bid_modifier": ("google_ads", "device"),
    "exclude_placement": ("meta", "placement"),
    "exclude_company_size": ("linkedin", "company_size"),
    "exclude_seniority": ("linkedin", "seniority"),
    "exclude_industry": ("linkedin", "industry"),
    "narrow_age_range": ("meta", "age"),
    "exclude_region": ("meta", "region"),
    "exclude_age_range": ("google_ads", "age"),
    "exclude_gender": ("google_ads", "gender"),
    "exclude_location": ("google_ads", "region"),
    "exclude_job_function": ("linkedin", "job_function"),
}
# kinds that act on every ad set of the named ad set's campaign (Google's campaign location criteria)
CAMPAIGN_LEVEL_KINDS: frozenset[str] = frozenset({"exclude_location"})
EXCLUDING_MODIFIER = -1.0  # -100%: the segment gets no delivery
MAX_MODIFIER = 9.0  # +900%, Google's ceiling


class _Mutation(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def entity_id(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def effective_day(self) -> date: ...


@dataclass
class SegmentSettings:
    """An ad set's live segment settings: excluded segments per dimension, device bid modifiers."""

    excluded: dict[str, set[str]] = field(default_factory=dict)
    bid_modifiers: dict[str, float] = field(default_factory=dict)

    def copy(self) -> SegmentSettings:
        return SegmentSettings({d: set(s) for d, s in self.excluded.items()}, dict(self.bid_modifiers))

    def attributes(self, platform: str) -> dict[str, Any]:
        """What the platform shows of them on the ad set (the `excluded_segments` attribute, and
        Google's `device_bid_modifiers`)."""
        shown: dict[str, Any] = {"excluded_segments": {d: sorted(s) for d, s in self.excluded.items() if s}}
        if platform == "google_ads":
            shown["device_bid_modifiers"] = dict(self.bid_modifiers)
        return shown


def apply_segment_change(settings: SegmentSettings, platform: str, currency: str, kind: str, entity_id: str,
                         params: Mapping[str, Any]) -> None:
    """Apply one segment mutation to `settings`; InvalidMutation for what the platform would refuse."""
    where, dimension = SEGMENT_KINDS[kind]
    if platform != where:
        raise InvalidMutation(f"{kind} on {entity_id}: a {where} change, not available on {platform}")
    segment = str(params.get("segment", ""))
    known = {p.segment for p in profiles_for(dimension, currency)}
    if str(params.get("dimension", dimension)) != dimension or segment not in known:
        raise InvalidMutation(f"{kind} on {entity_id}: no {dimension} segment {segment!r} "
                              f"(known: {', '.join(sorted(known))})")
    excluded = settings.excluded.setdefault(dimension, set())
    if kind == "set_device_bid_modifier":
        modifier = params.get("bid_modifier")
        if modifier is None:
            settings.bid_modifiers.pop(segment, None)
        else:
            value = float(modifier)
            if not (EXCLUDING_MODIFIER <= value <= MAX_MODIFIER) or math.isnan(value):
                raise InvalidMutation(f"{kind} on {entity_id}: bid_modifier {value} outside -1.0 .. {MAX_MODIFIER}")
            settings.bid_modifiers[segment] = value
        cut = settings.bid_modifiers.get(segment) == EXCLUDING_MODIFIER
    else:
        cut = bool(params.get("excluded", True))
    if cut and len(excluded | {segment}) >= len(known):
        raise InvalidMutation(f"{kind} on {entity_id}: excluding {segment} would leave no {dimension} to deliver to")
    after = excluded | {segment} if cut else excluded - {segment}
    if kind == "narrow_age_range" and not _contiguous([p.segment for p in profiles_for(dimension, currency)], after):
        raise InvalidMutation(f"{kind} on {entity_id}: an age range is one span: {segment} is not at its edge")
    excluded.clear()
    excluded.update(after)


def _contiguous(ordered: Sequence[str], excluded: Collection[str]) -> bool:
    """Whether the kept segments of `ordered` are one unbroken run (an age range has two ends)."""
    kept = [i for i, s in enumerate(ordered) if s not in excluded]
    return not kept or kept[-1] - kept[0] + 1 == len(kept)


def delivery_factors(seed: int, ad_set_id: str, currency: str,
                     excluded: Mapping[str, Collection[str]]) -> tuple[float, float]:
    """(conversion-rate factor, value-per-conversion factor) of the ad set under its exclusions."""
    rate, value = 1.0, 1.0
    for dimension, segments in excluded.items():
        if segments:
            effect = exclusion_effect(segment_truth(seed, ad_set_id, dimension, currency), frozenset(segments))
            rate *= effect.conversion_rate
            value *= effect.value_per_conversion
    return rate, value


class ExclusionHistory:
    """Which segments each ad set excluded on each day, from the platform's mutation log."""

    def __init__(self, platform_of: Mapping[str, str], currency_of: Mapping[str, str],
                 mutations: Sequence[_Mutation], campaign_of: Mapping[str, str] | None = None) -> None:
        """`campaign_of` (ad set -> campaign) spreads a campaign-level cut over the campaign's ad sets."""
        self._changes: dict[str, list[tuple[date, SegmentSettings]]] = defaultdict(list)
        current: dict[str, SegmentSettings] = {}
        siblings: dict[str, list[str]] = defaultdict(list)
        for ad_set, campaign in sorted((campaign_of or {}).items()):
            siblings[campaign].append(ad_set)
        ordered = sorted(enumerate(mutations), key=lambda item: (item[1].effective_day, item[0]))
        for _, mutation in ordered:
            if mutation.kind not in SEGMENT_KINDS or mutation.entity_id not in platform_of:
                continue
            targets = [mutation.entity_id]
            if mutation.kind in CAMPAIGN_LEVEL_KINDS and campaign_of and mutation.entity_id in campaign_of:
                targets = siblings[campaign_of[mutation.entity_id]]
            updated = {}
            try:
                for ad_set in targets:
                    settings = current.get(ad_set, SegmentSettings()).copy()
                    apply_segment_change(settings, platform_of[ad_set], currency_of[ad_set], mutation.kind,
                                         ad_set, mutation.params)
                    updated[ad_set] = settings
            except InvalidMutation:
                continue  # the platform skipped it, as the simulation does
            for ad_set, settings in updated.items():
                current[ad_set] = settings
                self._changes[ad_set].append((mutation.effective_day, settings))

    def excluded(self, ad_set_id: str, dimension: str, day: date) -> frozenset[str]:
        """The ad set's excluded segments of `dimension` in its delivery on `day`."""
        found: frozenset[str] = frozenset()
        for effective, settings in self._changes.get(ad_set_id, ()):
            if effective > day:
                break
            found = frozenset(settings.excluded.get(dimension, ()))
        return found
