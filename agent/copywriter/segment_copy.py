"""Copy for one segment of an ad set: which configured segments an ad set gets copy for, the ads'
history within the segment, and the predicted CTR in the segment with its interval.

Breakdowns are stored per ad set (docs/segments.md), and per ad where a connector reports them so.
- Ad-level rows of the segment: each ad's clicks and impressions within the segment become the
  history the offline drafter and the winning patterns learn from ("what works for 18-24").
- Ad-set-level rows: the ad set's CTR in the segment against its CTR over the whole dimension gives
  a log ratio r with sampling variance 1/(clicks + 0.5) - 1/(impressions + 1); the segment's
  predicted CTR is the ad set's prediction times exp(r), its interval widened by that variance.
Pure: it reads a snapshot and rows, never the database.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist
from typing import Any

from agent.copywriter.ctr_model import CtrPrediction
from agent.copywriter.drafting import SegmentBrief
from agent.copywriter.history import AdRecord, ad_text
from agent.copywriter.language import dominant_language
from agent.copywriter.settings import CopySegment, CopywriterSettings
from connectors.records import SegmentRow
from policies.base import Snapshot


@dataclass(frozen=True)
class SegmentDelivery:
    """One ad set's delivery in one segment against its whole dimension, over the window."""

    spend: Decimal
    dimension_spend: Decimal
    impressions: int
    clicks: int
    dimension_impressions: int
    dimension_clicks: int

    @property
    def spend_share(self) -> float:
        return float(self.spend / self.dimension_spend) if self.dimension_spend > 0 else 0.0

    @property
    def log_ratio(self) -> float:
        """log(segment CTR / the ad set's CTR over the dimension), continuity-corrected."""
        inside = math.log((self.clicks + 0.5) / (self.impressions + 1.0))
        whole = math.log((self.dimension_clicks + 0.5) / (self.dimension_impressions + 1.0))
        return inside - whole

    @property
    def ratio_variance(self) -> float:
        return max(1.0 / (self.clicks + 0.5) - 1.0 / (self.impressions + 1.0), 0.0)

    def as_evidence(self) -> dict[str, Any]:
        return {"spend": str(self.spend), "spend_share": round(self.spend_share, 4), "impressions": self.impressions,
                "clicks": self.clicks, "ctr": round(self.clicks / self.impressions, 6) if self.impressions else None,
                "ad_set_ctr": (round(self.dimension_clicks / self.dimension_impressions, 6)
                               if self.dimension_impressions else None)}


def brief(segment: CopySegment) -> SegmentBrief:
    return SegmentBrief(segment.name, segment.description, segment.dimension, segment.segment_label)


def draft_language(settings: CopywriterSettings, segment: CopySegment | None, history: Sequence[AdRecord],
                   ad_set_id: str | None = None) -> str | None:
    """The segment's language, else the copywriter's, else that of most of the ad set's own ads (an
    account may run French and German ad sets side by side), else of most of the account's ads."""
    if segment is not None and segment.language:
        return segment.language
    if settings.language:
        return settings.language
    own = dominant_language(r.text.all_text for r in history if r.ad_set_id == ad_set_id)
    return own or dominant_language(r.text.all_text for r in history)


def delivery(rows: Sequence[SegmentRow], entity_ids: set[str], dimension: str,
             segments: Collection[str]) -> SegmentDelivery:
    """Delivery of `entity_ids` (an ad set, or its ads) in `segments` and over the whole `dimension`."""
    mine = [r for r in rows if r.entity_id in entity_ids and r.dimension == dimension]
    inside = [r for r in mine if r.segment in segments]
    return SegmentDelivery(sum((r.spend for r in inside), Decimal(0)), sum((r.spend for r in mine), Decimal(0)),
                           sum(r.impressions for r in inside), sum(r.clicks for r in inside),
                           sum(r.impressions for r in mine), sum(r.clicks for r in mine))


def ad_set_delivery(snapshot: Snapshot, rows: Sequence[SegmentRow], ad_set_id: str,
                    dimension: str, segments: Collection[str]) -> SegmentDelivery:
    """The ad set's own rows when there are any, else the sum of its ads' rows."""
    own = delivery(rows, {ad_set_id}, dimension, segments)
    if own.dimension_impressions or own.dimension_spend:
        return own
    ads = {e.entity_id for e in snapshot.entities.values() if e.level == "ad" and e.parent_id == ad_set_id}
    return delivery(rows, ads, dimension, segments)


def segments_for(settings: CopywriterSettings, snapshot: Snapshot, rows: Sequence[SegmentRow],
                 ad_set_id: str) -> list[tuple[CopySegment, SegmentDelivery | None]]:
    """The configured segments this ad set gets copy for: those without a breakdown, and those it
    spends at least `min_spend_share` of the dimension in (with that delivery)."""
    found: list[tuple[CopySegment, SegmentDelivery | None]] = []
    for segment in settings.segments:
        if segment.dimension is None:
            found.append((segment, None))
            continue
        seen = ad_set_delivery(snapshot, rows, ad_set_id, segment.dimension, segment.segment_values)
        if seen.impressions > 0 and seen.spend_share >= segment.min_spend_share:
            found.append((segment, seen))
    return found


def segment_history(snapshot: Snapshot, rows: Sequence[SegmentRow], dimension: str, segments: Collection[str],
                    min_impressions: int) -> list[AdRecord]:
    """Each ad's text with its clicks and impressions within the segment (ad-level rows only)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for row in rows:
        entity = snapshot.entities.get(row.entity_id)
        if entity is None or entity.level != "ad" or row.dimension != dimension or row.segment not in segments:
            continue
        total = totals[row.entity_id]
        total[0] += row.impressions
        total[1] += row.clicks
        total[2] += row.conversions
    records = []
    for ad_id, (impressions, clicks, conversions) in sorted(totals.items()):
        ad = snapshot.entities[ad_id]
        text = ad_text(ad.attributes)
        if ad.parent_id and text.headlines and text.descriptions and impressions >= min_impressions:
            records.append(AdRecord(ad_id, ad.parent_id, text, int(impressions), int(clicks), conversions, ad.status))
    return records


def in_segment(prediction: CtrPrediction, seen: SegmentDelivery) -> CtrPrediction:
    """The ad set's prediction carried into the segment: times the segment's CTR ratio, with the
    ratio's sampling variance added to the interval."""
    z = NormalDist().inv_cdf(0.5 + prediction.level / 2)
    sd = (math.log(prediction.high) - math.log(prediction.low)) / (2 * z) if prediction.low > 0 else 0.0
    shift, spread = seen.log_ratio, z * math.sqrt(sd * sd + seen.ratio_variance)
    centre = math.log(prediction.ctr) + shift
    return CtrPrediction(math.exp(centre), math.exp(centre - spread), math.exp(centre + spread),
                         prediction.baseline_ctr * math.exp(shift), prediction.level,
                         f"{prediction.model} x segment CTR ratio", prediction.training_ads)
