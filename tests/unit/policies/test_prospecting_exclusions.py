"""Prospecting exclusions: prospecting ad sets exclude the synced existing-customer audience, once the
platform holds it, and never twice."""

from __future__ import annotations

from dataclasses import replace

from connectors.records import Audience
from policies.prospecting_exclusions import CustomerShare, ProspectingTarget, propose_prospecting_exclusions
from tests.unit.policies.builders import entity, snapshot

AUDIENCE = "2384"


def _world(**kwargs):
    entities = [
        entity("c1", level="campaign", parent=None),  # name-c1: the prospecting campaign
        entity("c2", level="campaign", parent=None),  # name-c2: retargeting, left alone
        entity("A", parent="c1"), entity("B", parent="c1", excluded_audience_ids=[AUDIENCE]),
        entity("C", parent="c2"), entity("D", parent="c1", status="PAUSED"),
    ]
    return snapshot(entities, audiences=[Audience("acct", AUDIENCE, "customers", 41_000)], **kwargs)


TARGET = ProspectingTarget(patterns=("NAME-C1",), segment="existing-customers", audience_id=AUDIENCE,
                           held_members=3_000, shares={"c1": CustomerShare(40, 10, 0.15, 0.38)},
                           window=("2026-10-24", "2026-11-22"))


def test_each_active_prospecting_ad_set_without_the_exclusion_gets_one_with_evidence() -> None:
    (proposal,) = propose_prospecting_exclusions(_world(), TARGET)
    assert (proposal.kind, proposal.entity_id, proposal.policy) == ("exclude_audience", "A", "prospecting_exclusions")
    assert proposal.change == {"from": {"excluded_audience_ids": []}, "to": {"excluded_audience_id": AUDIENCE}}
    assert proposal.evidence["existing_share"] == 0.25
    assert (proposal.evidence["existing_share_low"], proposal.evidence["existing_share_high"]) == (0.15, 0.38)
    assert proposal.evidence["audience_members_synced"] == 3_000
    assert proposal.evidence["audience_platform_size"] == 41_000
    assert "10 of its campaign's 40 CRM conversions (25%)" in proposal.rationale


def test_an_ad_set_can_be_named_by_id_and_a_campaign_by_pattern() -> None:
    by_id = propose_prospecting_exclusions(_world(), replace(TARGET, patterns=("C",)))
    assert [p.entity_id for p in by_id] == ["C"]
    every = propose_prospecting_exclusions(_world(), replace(TARGET, patterns=("name-c*",)))
    assert [p.entity_id for p in every] == ["A", "C"]  # B already excludes it; D is paused


def test_nothing_before_the_platform_holds_the_audience() -> None:
    assert propose_prospecting_exclusions(_world(), replace(TARGET, held_members=0)) == []
    unknown = snapshot(list(_world().entities.values()), audiences=[Audience("acct", "999", "other", 10)])
    assert propose_prospecting_exclusions(unknown, TARGET) == []


def test_without_outcomes_the_proposal_still_names_the_audience_but_claims_no_share() -> None:
    (proposal,) = propose_prospecting_exclusions(_world(), replace(TARGET, shares={}))
    assert "existing_share" not in proposal.evidence
    assert "CRM conversions" not in proposal.rationale


def test_protected_targeting_and_platforms_without_the_lever_get_nothing() -> None:
    protected = _world(protected_entities=frozenset({"c1"}))
    assert propose_prospecting_exclusions(protected, TARGET) == []
    targeted = snapshot([entity("c1", level="campaign", parent=None), entity("A", audience_ids=[AUDIENCE])],
                        audiences=[Audience("acct", AUDIENCE, "customers", 41_000)])
    assert propose_prospecting_exclusions(targeted, TARGET) == []
    # Google: campaigns that do not list their audience exclusions (Performance Max) take none;
    # LinkedIn: no ad segment recorded by the sync yet
    for platform in ("google_ads", "linkedin"):
        assert propose_prospecting_exclusions(replace(_world(), platform=platform), TARGET) == []
    assert propose_prospecting_exclusions(replace(_world(), platform="tiktok"), TARGET) == []


def _google(**kwargs):
    entities = [
        entity("c1", level="campaign", parent=None, channel="SEARCH", excluded_audience_ids=[]),
        entity("c2", level="campaign", parent=None, channel="SEARCH", excluded_audience_ids=[AUDIENCE]),
        entity("c3", level="campaign", parent=None, channel="PERFORMANCE_MAX"),  # no user-list criteria
        entity("c4", level="campaign", parent=None, channel="DISPLAY", excluded_audience_ids=[]),
        entity("A", parent="c1"), entity("B", parent="c1"), entity("E", parent="c4", status="PAUSED"),
    ]
    return replace(snapshot(entities, **kwargs), platform="google_ads")


def test_google_excludes_once_per_campaign_never_per_ad_group_nor_on_performance_max() -> None:
    every = propose_prospecting_exclusions(_google(), replace(TARGET, patterns=("name-c*",)))
    # c2 already excludes it; c3 is Performance Max
    assert [(p.entity_id, p.entity_level) for p in every] == [("c1", "campaign"), ("c4", "campaign")]
    assert every[0].evidence["existing_share"] == 0.25  # the campaign's own share
    assert "every ad group" in every[0].rationale
    # an ad group's name makes its campaign prospecting; a paused ad group does not
    by_ad_group = propose_prospecting_exclusions(_google(), replace(TARGET, patterns=("name-a", "name-e")))
    assert [p.entity_id for p in by_ad_group] == ["c1"]


def test_linkedin_excludes_the_ad_segment_the_sync_recorded() -> None:
    world = replace(_world(), platform="linkedin", audiences=(Audience("acct", "777", "customers", 900),))
    proposals = propose_prospecting_exclusions(world, replace(TARGET, exclusion_id="777"))
    assert [p.entity_id for p in proposals] == ["A", "B"]  # B excludes the DMP segment's id, not the ad segment
    proposal = proposals[0]
    assert proposal.change["to"] == {"excluded_audience_id": "777"}
    assert (proposal.evidence["synced_audience_id"], proposal.evidence["audience_platform_size"]) == (AUDIENCE, 900)
