"""Our dimension and segment names, the same on every platform, and completing a breakdown with `unknown`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.records import MetricRow, SegmentRow
from connectors.segments import (
    UNKNOWN,
    complete_with_unknown,
    google_age,
    google_device,
    google_gender,
    meta_age,
    meta_device,
    meta_gender,
    meta_placement,
    region,
)

DAY = date(2026, 11, 20)


def _segment(segment: str, spend: str, conversions: float, dimension: str = "device") -> SegmentRow:
    return SegmentRow("meta", "a", "s1", DAY, dimension, segment, "EUR", Decimal(spend), 10, 1, conversions,
                      Decimal(spend))


def test_the_same_segment_has_the_same_name_on_every_platform() -> None:
    assert google_age("AGE_RANGE_18_24") == meta_age("18-24") == "18-24"
    assert google_age("AGE_RANGE_65_UP") == meta_age("65+") == "65+"
    assert google_age("AGE_RANGE_UNDETERMINED") == meta_age("Unknown") == UNKNOWN
    assert google_gender("FEMALE") == meta_gender("female") == "female"
    assert google_gender("UNDETERMINED") == meta_gender("unknown") == UNKNOWN
    assert google_device("MOBILE") == meta_device("mobile_app") == meta_device("mobile_web") == "mobile"
    assert google_device("DESKTOP") == meta_device("desktop") == "desktop"
    assert region("North Rhine-Westphalia") == region("north rhine westphalia") == "north-rhine-westphalia"
    assert region("Unknown") == region(None) == UNKNOWN


def test_placements_name_their_platform_once() -> None:
    assert meta_placement("facebook", "feed") == "facebook_feed"
    assert meta_placement("instagram", "instagram_stories") == "instagram_stories"
    assert meta_placement("facebook", "facebook_reels") == "facebook_reels"
    assert meta_placement("audience_network", "an_classic") == "audience_network_classic"
    assert meta_placement("facebook", None) == UNKNOWN


def test_what_the_segments_miss_is_stored_as_unknown_and_merged_names_sum() -> None:
    total = MetricRow("meta", "a", "ad_set", "s1", DAY, "EUR", Decimal("100"), 100, 10, 5.0, Decimal("100"))
    rows = [_segment("mobile", "30", 1.0), _segment("mobile", "20", 1.0), _segment("desktop", "40", 2.0)]
    complete = {r.segment: r for r in complete_with_unknown(rows, [total], ["device"])}
    assert complete["mobile"].spend == Decimal("50") and complete["mobile"].conversions == 2.0
    assert complete[UNKNOWN].spend == Decimal("10") and complete[UNKNOWN].conversions == 1.0
    assert sum(r.spend for r in complete.values()) == total.spend


def test_a_breakdown_that_covers_the_total_gets_no_unknown_row() -> None:
    total = MetricRow("meta", "a", "ad_set", "s1", DAY, "EUR", Decimal("50"), 20, 2, 2.0, Decimal("50"))
    rows = [_segment("mobile", "25", 1.0), _segment("desktop", "25", 1.0)]
    rows = [SegmentRow(**{**r.__dict__, "impressions": 10}) for r in rows]
    assert {r.segment for r in complete_with_unknown(rows, [total], ["device"])} == {"mobile", "desktop"}
