"""Audience overlap: inclusion-exclusion from reach estimates, weaker ad set excludes the stronger's."""

from __future__ import annotations

from decimal import Decimal

from connectors.records import Audience
from policies.audience_overlap import overlap, propose_audience_exclusions
from policies.settings import AudienceOverlapSettings
from tests.unit.policies.builders import entity, rows, snapshot

AUDIENCES = [Audience("acct", "a", "Runners", 100_000), Audience("acct", "b", "Hikers", 80_000),
             Audience("acct", "c", "Chess players", 50_000)]
REACH = {frozenset({"a"}): 100_000, frozenset({"b"}): 80_000, frozenset({"c"}): 50_000,
         frozenset({"a", "b"}): 120_000, frozenset({"a", "c"}): 148_000, frozenset({"b", "c"}): 129_000}


def _account(strong_value: float = 400, weak_value: float = 150, weak_audiences=("b",), **kwargs):
    entities = [entity("S", audience_ids=["a"]), entity("W", audience_ids=list(weak_audiences), **kwargs)]
    data = rows("S", 14, spend=100, conversions=4, value=strong_value) + rows("W", 14, spend=100, conversions=2,
                                                                              value=weak_value)
    return snapshot(entities, data, audiences=AUDIENCES, reach_estimates=REACH)


def test_overlap_is_inclusion_exclusion_over_the_smaller_audience() -> None:
    # 100k + 80k - 120k = 60k people in both; 60k / 80k = 75% of the smaller audience.
    assert overlap(_account(), "a", "b") == (60_000, 0.75)
    assert overlap(_account(), "a", "c") == (2_000, 0.04)


def test_the_weaker_ad_set_excludes_the_stronger_ones_audience_with_the_wasted_spend() -> None:
    (proposal,) = propose_audience_exclusions(_account(), AudienceOverlapSettings())
    assert (proposal.kind, proposal.entity_id) == ("exclude_audience", "W")
    assert proposal.change["to"] == {"excluded_audience_id": "a"}
    # W spent 1400; 60k of its 80k people (75%) are also targeted by S: about 1050 wasted.
    assert proposal.evidence["estimated_wasted_spend"] == "1050.00"
    assert proposal.evidence["overlap_share_of_smaller"] == 0.75
    assert "60,000 people" in proposal.rationale


def test_small_overlap_similar_performance_and_shared_audiences_propose_nothing() -> None:
    config = AudienceOverlapSettings()
    assert propose_audience_exclusions(_account(weak_audiences=("c",)), config) == []
    assert propose_audience_exclusions(_account(weak_value=390), config) == []
    assert propose_audience_exclusions(_account(weak_audiences=("a",)), config) == []


def test_existing_exclusions_and_protected_ad_sets_are_respected() -> None:
    config = AudienceOverlapSettings()
    assert propose_audience_exclusions(_account(excluded_audience_ids=["a"]), config) == []
    protected = _account()
    protected = snapshot(protected.entities.values(), [r for rs in protected.daily.values() for r in rs],
                         audiences=AUDIENCES, reach_estimates=REACH, protected_entities=frozenset({"W"}))
    assert propose_audience_exclusions(protected, config) == []
    assert propose_audience_exclusions(_account(), AudienceOverlapSettings(min_spend=Decimal("5000"))) == []
