"""Segment discovery from breakdowns: a few groups that differ with evidence, not every segment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from policies.roas_evidence import WindowEvidence
from policies.segment_discovery import DiscoverySettings, suggest_from_breakdowns
from policies.segment_exclusions import SegmentWindow

START, END = date(2026, 3, 1), date(2026, 3, 28)
VALUE_PER_CONVERSION = 50.0


def window(dimension: str, segment: str, spend: float, roas: float) -> SegmentWindow:
    conversions = spend * roas / VALUE_PER_CONVERSION
    return SegmentWindow(dimension, segment, WindowEvidence(
        START, END, Decimal(str(spend)), spend, conversions, Decimal(str(round(spend * roas, 2))),
        int(spend), int(spend * 100), 28, spend, START))


def meta_account() -> list[SegmentWindow]:
    return [
        window("device", "mobile", 6000, 0.9), window("device", "desktop", 9000, 2.6),
        window("device", "tablet", 300, 2.4), window("device", "unknown", 100, 2.0),
        window("age", "18-24", 3000, 0.8), window("age", "25-34", 5000, 2.4), window("age", "35-44", 4000, 2.6),
        window("age", "45-54", 3000, 2.5), window("age", "55-64", 150, 0.0), window("age", "65+", 100, 3.0),
        window("gender", "female", 7700, 2.0), window("gender", "male", 7700, 2.02),
        *[window("placement", name, 1500, 1.95 + 0.01 * i) for i, name in enumerate(
            ("facebook_feed", "instagram_feed", "instagram_stories", "facebook_reels", "facebook_marketplace",
             "instagram_reels", "messenger_inbox", "audience_network_classic", "facebook_stories", "threads_feed"))],
    ]


def test_the_segments_that_differ_with_evidence_are_suggested_with_size_interval_and_treatment() -> None:
    found = suggest_from_breakdowns("acct", "meta", "EUR", meta_account(), DiscoverySettings(target_roas=2.0))
    assert 1 <= len(found) <= 5
    by_name = {s.name: s for s in found}
    mobile = by_name["meta-device-mobile"]
    assert mobile.direction == "worse" and mobile.treatment == "exclude"  # its whole interval is under 2.0
    assert mobile.spend_share == 6000 / 15400
    assert mobile.roas_low < 0.9 < mobile.roas_high < 2.0 and mobile.rest_roas > 2.5
    assert mobile.headline.startswith("device mobile, meta: ROAS 0.90 (90% ")
    assert "against 2.5" in mobile.headline or "against 2.6" in mobile.headline
    assert "18-24" in {seg for s in found for seg in s.segments}
    assert not any(s.dimension in ("gender", "placement") for s in found)  # no evidence of a difference there


def test_thin_segments_never_stand_alone() -> None:
    found = suggest_from_breakdowns("acct", "meta", "EUR", meta_account(), DiscoverySettings())
    assert all(s.spend_share >= 0.05 for s in found)
    assert ("55-64",) not in {s.segments for s in found} and ("65+",) not in {s.segments for s in found}


def test_many_differing_segments_give_at_most_five_suggestions_largest_first() -> None:
    windows = [window(f"dim{d}", name, 4000 if name == "a" else 6000, 0.7 if name == "a" else 2.8)
               for d in range(8) for name in ("a", "b")]
    found = suggest_from_breakdowns("acct", "google_ads", "USD", windows, DiscoverySettings(max_suggestions=5))
    assert len(found) == 5
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)


def test_a_better_segment_gets_its_own_budget_when_surely_over_target() -> None:
    windows = [window("company_size", "11-50", 4000, 5.0), window("company_size", "51-200", 8000, 2.66),
               window("company_size", "1", 3000, 1.0), window("company_size", "2-10", 3000, 1.2)]
    found = suggest_from_breakdowns("acct", "linkedin", "USD", windows, DiscoverySettings(target_roas=2.0))
    better = [s for s in found if s.direction == "better"]
    worse = [s for s in found if s.direction == "worse"]
    assert better and better[0].segments == ("11-50",) and better[0].treatment == "own budget"
    assert worse and set(worse[0].segments) == {"1", "2-10"}  # two neighbours pooled into one suggestion
    assert len(found) == 2  # the middle (the size of the whole company_size ROAS) is no segment of its own


def test_a_dimension_split_in_two_gives_one_suggestion_the_smaller_side() -> None:
    windows = [window("company_size", "11-50", 4000, 5.0), window("company_size", "1", 3000, 1.0),
               window("company_size", "2-10", 3000, 1.2)]
    found = suggest_from_breakdowns("acct", "linkedin", "USD", windows, DiscoverySettings(target_roas=2.0))
    assert [(s.segments, s.direction) for s in found] == [(("11-50",), "better")]


def test_no_evidence_no_suggestion() -> None:
    windows = [window("device", "mobile", 50, 0.5), window("device", "desktop", 60, 3.0)]  # a handful of sales
    assert suggest_from_breakdowns("acct", "meta", "EUR", windows, DiscoverySettings()) == []


def test_a_dimension_whose_segments_carry_no_conversions_is_not_judged() -> None:
    # Meta's region breakdown puts every off-Meta conversion in `unknown`: named regions show spend at ROAS 0,
    # which says nothing about them (the exclusion policy holds the same rule).
    regions = [window("region", name, 4000, 0.0) for name in ("bavaria", "berlin", "hamburg", "hesse")]
    windows = [*regions, window("region", "unknown", 500, 64.0)]
    assert suggest_from_breakdowns("acct", "meta", "EUR", windows, DiscoverySettings(target_roas=2.0)) == []
    found = suggest_from_breakdowns("acct", "meta", "EUR", [*windows, *meta_account()],
                                    DiscoverySettings(target_roas=2.0))
    assert found and all(s.dimension != "region" for s in found)
