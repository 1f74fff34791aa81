"""Meta insights breakdowns: one ad-set-level daily insights request per account and breakdown.

Breakdowns combine only in the ways Meta allows
(https://developers.facebook.com/docs/marketing-api/insights/breakdowns): `age,gender` together in
one report, `region` alone, `platform_position` always paired with `publisher_platform`, and
`device_platform` alone. Breakdown values are Meta's estimates. Under `region` (a "Type 1" breakdown)
Meta no longer returns off-Meta actions (pixel purchases and leads), so region rows carry spend and
clicks but no conversions: the conversions land in the `unknown` region when rows are completed
against the ad set's totals, rather than being credited to regions by a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.meta.conversions import Conversions
from connectors.meta.records import PLATFORM, metric_row
from connectors.records import SegmentRow
from connectors.segments import meta_age, meta_device, meta_gender, meta_placement, region

BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "age_gender": ("age", "gender"),
    "region": ("region",),
    "placement": ("publisher_platform", "platform_position"),
    "device": ("device_platform",),
}
FIELDS = ["campaign_id", "adset_id", "date_start", "date_stop", "spend", "impressions", "clicks", "actions",
          "action_values"]


def segments_of(report: str, raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(dimension, segment) pairs one breakdown row belongs to."""
    if report == "age_gender":
        return [("age", meta_age(raw.get("age"))), ("gender", meta_gender(raw.get("gender")))]
    if report == "region":
        return [("region", region(raw.get("region")))]
    if report == "placement":
        return [("placement", meta_placement(raw.get("publisher_platform"), raw.get("platform_position")))]
    return [("device", meta_device(raw.get("device_platform")))]


def segment_rows(report: str, raw: Mapping[str, Any], account_id: str, currency: str,
                 conversions: Conversions) -> list[SegmentRow]:
    row = metric_row(raw, account_id, currency, "ad_set", conversions)
    return [SegmentRow(PLATFORM, account_id, row.entity_id, row.day, dimension, segment, currency, row.spend,
                       row.impressions, row.clicks, row.conversions, row.conversion_value)
            for dimension, segment in segments_of(report, raw)]
