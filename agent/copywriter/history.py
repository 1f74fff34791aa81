"""The account's creative history as the copywriter reads it: each ad's text and its fresh CTR.

An ad's CTR is taken over its first `fresh_days` days of delivery in the snapshot: later days mix
in creative fatigue (the same people seeing it again), which says nothing about the words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.records import Entity
from policies.base import Snapshot

_BODY_ATTRIBUTES = ("primary_text", "introductory_text", "description")


@dataclass(frozen=True)
class AdText:
    """An ad's words. On Meta `descriptions[0]` is the primary text; on LinkedIn the intro text."""

    headlines: tuple[str, ...]
    descriptions: tuple[str, ...]
    call_to_action: str | None = None

    @property
    def headline_text(self) -> str:
        return " ".join(self.headlines)

    @property
    def all_text(self) -> str:
        return " ".join((*self.headlines, *self.descriptions))


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value if str(v).strip())
    return ()


def ad_text(attributes: Mapping[str, Any]) -> AdText:
    """The text of an ad entity, from whichever attributes its connector fills."""
    headlines = _strings(attributes.get("headlines")) or _strings(attributes.get("headline"))
    descriptions = _strings(attributes.get("descriptions"))
    if not descriptions:
        descriptions = next((_strings(attributes.get(key)) for key in _BODY_ATTRIBUTES
                             if _strings(attributes.get(key))), ())
    cta = attributes.get("call_to_action")
    return AdText(headlines, descriptions, str(cta) if cta else None)


@dataclass(frozen=True)
class AdRecord:
    """One ad with enough text and delivery to learn from."""

    ad_id: str
    ad_set_id: str
    text: AdText
    impressions: int
    clicks: int
    conversions: float
    status: str

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def log_ctr(self) -> float:
        """log CTR with a half-click continuity correction (an ad with no clicks is not -inf)."""
        return math.log((self.clicks + 0.5) / (self.impressions + 1.0))

    @property
    def sampling_variance(self) -> float:
        """Binomial variance of `log_ctr` (delta method)."""
        return 1.0 / (self.clicks + 0.5) - 1.0 / (self.impressions + 1.0)


def ad_history(snapshot: Snapshot, fresh_days: int, min_impressions: int) -> list[AdRecord]:
    """Ads with text and at least `min_impressions` fresh impressions, sorted by id."""
    records = []
    for ad in sorted(snapshot.entities.values(), key=lambda e: e.entity_id):
        if ad.level != "ad" or ad.parent_id is None:
            continue
        text = ad_text(ad.attributes)
        if not text.headlines or not text.descriptions:
            continue
        rows = [r for r in snapshot.daily.get(ad.entity_id, ())
                if r.level == "ad" and r.impressions > 0 and r.day < snapshot.today][:fresh_days]
        impressions = sum(r.impressions for r in rows)
        if impressions < min_impressions:
            continue
        records.append(AdRecord(ad.entity_id, ad.parent_id, text, impressions, sum(r.clicks for r in rows),
                                sum(r.conversions for r in rows), ad.status))
    return records


@dataclass(frozen=True)
class AdSetContext:
    """What a copywriter needs to know about the ad set the copy is for."""

    ad_set: Entity
    theme: str
    audiences: tuple[str, ...]
    landing: str | None
    campaign: str | None
    existing: tuple[AdText, ...]


def ad_set_context(snapshot: Snapshot, ad_set: Entity) -> AdSetContext:
    """Theme (the ad set's `theme` attribute, else its name), audience names, landing page, ads."""
    attributes = ad_set.attributes
    names = {a.audience_id: a.name for a in snapshot.audiences}
    audiences = tuple(names.get(str(a), str(a)) for a in attributes.get("audience_ids", ()))
    landing = attributes.get("final_url") or next(iter(_strings(attributes.get("final_urls"))), None)
    campaign = snapshot.entities.get(ad_set.parent_id or "")
    existing = tuple(ad_text(e.attributes) for e in sorted(snapshot.entities.values(), key=lambda e: e.entity_id)
                     if e.level == "ad" and e.parent_id == ad_set.entity_id and e.status != "REMOVED")
    return AdSetContext(
        ad_set=ad_set,
        theme=str(attributes.get("theme") or ad_set.name),
        audiences=audiences,
        landing=str(landing) if landing else None,
        campaign=campaign.name if campaign else None,
        existing=existing,
    )
