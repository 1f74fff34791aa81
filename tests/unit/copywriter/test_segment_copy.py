"""Copy per segment: the segment's own drafts, patterns, predicted CTR and proposal."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr, ValidationError

from agent.copywriter import CopywriterSettings, draft_new_ads
from agent.copywriter.drafting import DraftRequest, DraftResult, Variant
from agent.copywriter.offline import OfflineDrafter
from agent.copywriter.proposals import learn_account
from agent.copywriter.settings import CopySegment, OpenAISettings
from connectors.records import SegmentRow
from policies.base import Proposal, Snapshot
from tests.fakes.openai_server import FakeOpenAI, variants
from tests.unit.copywriter.account import account, refresh

MOBILE = CopySegment(name="mobile shoppers", description="People on their phones, in a hurry, between two things",
                     dimension="device", segment="mobile")
YOUNG = CopySegment(name="young runners", description="Runners aged 18 to 24 who like loud, playful copy",
                    dimension="age", segment="18-24")


def _row(snapshot: Snapshot, entity_id: str, dimension: str, segment: str, impressions: int, clicks: int,
         days: int = 14, spend: str = "10") -> list[SegmentRow]:
    return [SegmentRow("meta", "acct", entity_id, snapshot.today - timedelta(days=d), dimension, segment, "USD",
                       Decimal(spend), impressions, clicks, 0.0, Decimal(0)) for d in range(1, days + 1)]


def _device_rows(snapshot: Snapshot, mobile_ctr: float, desktop_ctr: float) -> list[SegmentRow]:
    """Every ad set splits 10,000 daily impressions: 6,000 mobile, 4,000 desktop."""
    rows: list[SegmentRow] = []
    for ad_set in (e.entity_id for e in snapshot.entities.values() if e.level == "ad_set"):
        rows += _row(snapshot, ad_set, "device", "mobile", 6000, round(6000 * mobile_ctr), spend="30")
        rows += _row(snapshot, ad_set, "device", "desktop", 4000, round(4000 * desktop_ctr), spend="20")
    return rows


def _for(report_proposals: list[Proposal], name: str | None) -> list[Proposal]:
    return [p for p in report_proposals if (p.evidence.get("segment") or {}).get("name") == name]


GENERAL = Variant(("Running Jacket, 20% off this week",), ("Rated 4.8 by 12k runners. Light and packable.",),
                  "SHOP_NOW", "scripted")
FOR_MOBILE = Variant(("Running Jacket: 20% off",), ("Rated 4.8. Order in two taps.",), "SHOP_NOW", "scripted")


class ScriptedDrafter:
    """One variant for the ad set, another for any segment (as a language model given its description)."""

    label = "scripted"

    def __init__(self) -> None:
        self.requests: list[DraftRequest] = []

    def draft(self, request: DraftRequest) -> DraftResult:
        self.requests.append(request)
        return DraftResult([FOR_MOBILE if request.segment else GENERAL])


def test_a_segment_gets_its_own_proposals_that_say_so() -> None:
    snapshot, _ = account()
    rows = _device_rows(snapshot, mobile_ctr=0.006, desktop_ctr=0.018)
    drafter = ScriptedDrafter()
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(segments=[MOBILE]),
                           drafter, segment_rows=rows)
    assert [r.segment.name if r.segment else None for r in drafter.requests] == [None, "mobile shoppers"]
    general, mobile = _for(report.proposals, None), _for(report.proposals, "mobile shoppers")
    assert general and mobile
    proposal = mobile[0]
    assert proposal.rationale.startswith("New copy for segment 'mobile shoppers' (device mobile) of ad set 'name-s2'")
    assert "People on their phones" in proposal.rationale and "Predicted CTR in the segment" in proposal.rationale
    assert proposal.change["to"]["name"] == "scripted copy for mobile shoppers: Running Jacket: 20% off"
    segment = proposal.evidence["segment"]
    assert (segment["dimension"], segment["segment"]) == ("device", "mobile")
    assert segment["delivery"]["spend_share"] == pytest.approx(0.6)
    assert "whole account" in segment["patterns_from"]  # breakdowns per ad set only


def test_the_segments_predicted_ctr_follows_its_delivery_with_a_wider_interval() -> None:
    snapshot, _ = account()
    rows = _device_rows(snapshot, mobile_ctr=0.006, desktop_ctr=0.018)  # mobile clicks half the ad set's rate
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(segments=[MOBILE]),
                           ScriptedDrafter(), segment_rows=rows)
    (mobile,) = _for(report.proposals, "mobile shoppers")
    predicted = mobile.evidence["predicted_ctr"]
    whole_ad_set = learn_account(snapshot, CopywriterSettings()).predict(FOR_MOBILE.text, "s2", 0.8)
    assert predicted["ctr"] / whole_ad_set.ctr == pytest.approx(0.006 / 0.0108, rel=0.03)  # mobile CTR / the ad set's
    low, high = predicted["interval"]
    assert low < predicted["ctr"] < high
    assert math.log(high / low) > math.log(whole_ad_set.high / whole_ad_set.low)
    assert "segment CTR ratio" in predicted["model"]


def test_an_ad_set_that_barely_reaches_the_segment_gets_no_copy_for_it() -> None:
    snapshot, _ = account()
    rows: list[SegmentRow] = []
    for ad_set in ("s1", "s2", "s3"):
        rows += _row(snapshot, ad_set, "device", "mobile", 100, 1, spend="1")
        rows += _row(snapshot, ad_set, "device", "desktop", 9900, 120, spend="99")
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(segments=[MOBILE]),
                           ScriptedDrafter(), segment_rows=rows)
    assert _for(report.proposals, None) and not _for(report.proposals, "mobile shoppers")


def test_the_offline_drafter_skips_a_segment_it_has_nothing_specific_for_and_says_so() -> None:
    snapshot, _ = account()
    rows = _device_rows(snapshot, mobile_ctr=0.006, desktop_ctr=0.018)  # per ad set only
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(segments=[MOBILE]),
                           OfflineDrafter(), segment_rows=rows)
    assert _for(report.proposals, None) and not _for(report.proposals, "mobile shoppers")
    assert report.notes == ["s2: no copy for segment 'mobile shoppers': the offline drafter has nothing specific to "
                            "it (breakdowns per ad set only, the same language), so its drafts would repeat the "
                            "ad set's"]


def test_a_segments_draft_that_repeats_the_ad_sets_is_rejected_as_a_duplicate() -> None:
    snapshot, _ = account()

    class Repeating(ScriptedDrafter):
        def draft(self, request: DraftRequest) -> DraftResult:
            return DraftResult([GENERAL])

    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(segments=[MOBILE]),
                           Repeating(), segment_rows=_device_rows(snapshot, 0.01, 0.012))
    assert len(report.proposals) == 1 and not _for(report.proposals, "mobile shoppers")
    assert report.rejected_counts["duplicate"] == 1


def test_the_offline_drafter_learns_what_wins_within_the_segment_from_per_ad_breakdowns() -> None:
    """Across the account numbers win and loud copy loses; among 18-24 year-olds loud copy wins."""
    snapshot, _ = account()
    rows: list[SegmentRow] = []
    for ad in (e for e in snapshot.entities.values() if e.level == "ad"):
        loud = "!!!" in ad.attributes["description"]
        rows += _row(snapshot, ad.entity_id, "age", "18-24", 3000, 60 if loud else 24)
        rows += _row(snapshot, ad.entity_id, "age", "25-34", 5000, 60)
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(segments=[YOUNG]),
                           OfflineDrafter(), segment_rows=rows)
    young = _for(report.proposals, "young runners")
    assert young, report.as_dict()
    evidence = young[0].evidence
    assert "within the segment" in evidence["segment"]["patterns_from"]
    winners = [p["pattern"] for p in evidence["patterns"] if p["ctr_lift"] > 0]
    assert "exclamations" in winners or any("exclamations" in p.get("same_ads_as", ()) for p in evidence["patterns"]
                                            if p["ctr_lift"] > 0)
    assert evidence["model"]["fitted_on"] == "ads' delivery within the segment"
    assert "ratio" not in evidence["predicted_ctr"]["model"]
    assert all("!!!" in p.change["to"]["description"] for p in young)  # the segment's winners, not the account's
    assert not any("!!!" in p.change["to"]["description"] for p in _for(report.proposals, None))


def test_the_segment_description_goes_into_the_prompt() -> None:
    server = FakeOpenAI().start()
    try:
        reply = {"headlines": ["Running Jacket, 20% off"], "descriptions": ["Rated 4.8 by 12k runners. Light and packable."],
                 "call_to_action": "SHOP_NOW"}
        mobile = {"headlines": ["Running Jacket: 20% off"], "descriptions": ["Rated 4.8. Order in two taps."],
                  "call_to_action": "SHOP_NOW"}
        server.script = [variants(reply), variants(mobile)]
        snapshot, _ = account()
        settings = CopywriterSettings(drafter="openai", segments=[MOBILE], openai=OpenAISettings(
            api_key=SecretStr("sk-test"), base_url=server.base_url, model="test-model", retry_initial_seconds=0))
        report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], settings,
                               segment_rows=_device_rows(snapshot, 0.01, 0.012))
        requests = list(server.requests)
    finally:
        server.stop()
    assert len(requests) == 2  # the ad set's general copy, then the segment's
    system, user = requests[1]["messages"][0]["content"], json.loads(requests[1]["messages"][1]["content"])
    assert "speak to this audience segment (mobile shoppers): People on their phones" in system
    assert user["audience_segment"] == {"name": "mobile shoppers", "description": MOBILE.description,
                                        "breakdown": {"dimension": "device", "segment": "mobile"}}
    assert "audience_segment" not in json.loads(requests[0]["messages"][1]["content"])
    assert _for(report.proposals, "mobile shoppers")


def test_a_segment_needs_both_dimension_and_segment() -> None:
    with pytest.raises(ValidationError, match="give both dimension and segment"):
        CopySegment(name="x", description="someone", dimension="age")
    with pytest.raises(ValidationError, match="used twice"):
        CopywriterSettings(segments=[MOBILE, MOBILE])


def test_a_segment_may_cover_several_breakdown_segments() -> None:
    snapshot, _ = account()
    rows = _device_rows(snapshot, mobile_ctr=0.006, desktop_ctr=0.018)
    both = CopySegment(name="all devices", description="Anyone, on any screen", dimension="device",
                       segment=["mobile", "desktop"])
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(segments=[both]),
                           ScriptedDrafter(), segment_rows=rows)
    proposal = _for(report.proposals, "all devices")[0]
    assert proposal.evidence["segment"]["segment"] == "desktop+mobile"
    assert proposal.evidence["segment"]["delivery"]["spend_share"] == pytest.approx(1.0)
