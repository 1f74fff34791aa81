"""Segment cuts in the simulator: the cut segment stops delivering, its money goes to the kept
segments at their rates, breakdowns still sum to the totals, and the platforms' rules hold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from agent.clock import FixedClock
from connectors.records import Mutation
from connectors.simulator.segment_actions import SegmentSettings, apply_segment_change
from connectors.simulator.segments import exclusion_effect, segment_truth
from connectors.simulator.world import SimAccountSpec
from tests.fakes.platform_fixtures import make_simulator

TODAY = date(2026, 11, 23)


def _cut(segment: str) -> dict[str, object]:
    return {"dimension": "placement", "segment": segment, "excluded": True}


def test_a_cut_segment_stops_delivering_and_the_rest_keep_the_totals() -> None:
    clock = FixedClock.at_day(TODAY - timedelta(days=10), hour=12)
    spec = SimAccountSpec("m", "meta", "Meta", "EUR", "Europe/Berlin", 1, 2, 2)
    simulator = make_simulator([spec], clock.now, seed=3, history_days=20)
    ad_set = next(e for e in simulator.entities("m") if e.level == "ad_set")
    truth_before = simulator.observe("m").truth.true_roas[ad_set.entity_id]
    result = simulator.apply("m", [Mutation("exclude_placement", "m", ad_set.entity_id,
                                            _cut("audience_network_classic"), "k1")])[0]
    assert result.ok, result.error
    cut_day = clock.now().date()
    clock.current += timedelta(days=10)
    live = simulator.entities("m", [ad_set.entity_id])[0]
    assert live.attributes["excluded_segments"] == {"placement": ["audience_network_classic"]}
    truth = segment_truth(3, ad_set.entity_id, "placement", "EUR")
    expected = exclusion_effect(truth, frozenset({"audience_network_classic"})).roas
    assert simulator.observe("m").truth.true_roas[ad_set.entity_id] == pytest.approx(truth_before * expected, rel=0.05)
    rows = [r for r in simulator.segment_metrics("m", "placement", cut_day - timedelta(days=3), cut_day + timedelta(days=3))
            if r.entity_id == ad_set.entity_id]
    totals = {m.day: m for m in simulator.daily_metrics("m", cut_day - timedelta(days=3), cut_day + timedelta(days=3))
              if m.entity_id == ad_set.entity_id}
    for day, total in totals.items():
        parts = [r for r in rows if r.day == day]
        assert sum(r.spend for r in parts) == total.spend  # still sums to the ad set's day
        network = next(r for r in parts if r.segment == "audience_network_classic")
        assert (network.spend == 0) == (day >= cut_day), day  # nothing after the cut, spend before it


def test_the_platforms_rules_hold() -> None:
    settings = SegmentSettings()
    with pytest.raises(Exception, match="not available on linkedin"):
        apply_segment_change(settings, "linkedin", "EUR", "exclude_placement", "s1", _cut("facebook_feed"))
    with pytest.raises(Exception, match="no placement segment"):
        apply_segment_change(settings, "meta", "EUR", "exclude_placement", "s1", _cut("myspace"))
    for segment in ("facebook_feed", "instagram_feed", "instagram_stories", "facebook_reels"):
        apply_segment_change(settings, "meta", "EUR", "exclude_placement", "s1", _cut(segment))
    with pytest.raises(Exception, match="leave no placement"):
        apply_segment_change(settings, "meta", "EUR", "exclude_placement", "s1", _cut("audience_network_classic"))
    google = SegmentSettings()
    apply_segment_change(google, "google_ads", "USD", "set_device_bid_modifier", "g1",
                         {"dimension": "device", "segment": "mobile", "bid_modifier": 0.3})
    assert google.excluded.get("device", set()) == set()  # a milder modifier cuts nothing
    apply_segment_change(google, "google_ads", "USD", "set_device_bid_modifier", "g1",
                         {"dimension": "device", "segment": "mobile", "bid_modifier": -1.0})
    assert google.excluded["device"] == {"mobile"} and google.attributes("google_ads")["device_bid_modifiers"] == {
        "mobile": -1.0}
    apply_segment_change(google, "google_ads", "USD", "set_device_bid_modifier", "g1",
                         {"dimension": "device", "segment": "mobile", "bid_modifier": None})
    assert google.excluded["device"] == set() and google.bid_modifiers == {}


def test_a_meta_age_range_narrows_only_at_its_ends_and_the_age_gender_rows_follow() -> None:
    settings = SegmentSettings()
    age = {"dimension": "age", "segment": "45-54", "excluded": True}
    with pytest.raises(Exception, match="not at its edge"):
        apply_segment_change(settings, "meta", "EUR", "narrow_age_range", "s1", age)
    for band in ("18-24", "65+", "25-34"):
        apply_segment_change(settings, "meta", "EUR", "narrow_age_range", "s1", {**age, "segment": band})
    with pytest.raises(Exception, match="not at its edge"):  # widening back must also keep one range
        apply_segment_change(settings, "meta", "EUR", "narrow_age_range", "s1", {**age, "segment": "18-24",
                                                                                 "excluded": False})
    assert settings.excluded["age"] == {"18-24", "25-34", "65+"}

    clock = FixedClock.at_day(TODAY - timedelta(days=10), hour=12)
    spec = SimAccountSpec("m", "meta", "Meta", "EUR", "Europe/Berlin", 1, 2, 2)
    simulator = make_simulator([spec], clock.now, seed=5, history_days=20)
    ad_set = next(e for e in simulator.entities("m") if e.level == "ad_set")
    assert simulator.apply("m", [Mutation("narrow_age_range", "m", ad_set.entity_id,
                                          {**age, "segment": "18-24"}, "k1")])[0].ok
    cut_day = clock.now().date()
    clock.current += timedelta(days=5)
    after = cut_day + timedelta(days=2)
    rows = [r for r in simulator.segment_metrics("m", "age_gender", after, after) if r.entity_id == ad_set.entity_id]
    [total] = [m for m in simulator.daily_metrics("m", after, after) if m.entity_id == ad_set.entity_id]
    for dimension in ("age", "gender"):  # both marginals of the joint report still sum to the day
        assert sum(r.spend for r in rows if r.dimension == dimension) == total.spend
    assert all(r.spend == 0 for r in rows if r.segment == "18-24") and total.spend > 0


def test_a_google_location_cut_stops_the_region_for_every_ad_set_of_the_campaign() -> None:
    clock = FixedClock.at_day(TODAY - timedelta(days=10), hour=12)
    spec = SimAccountSpec("g", "google_ads", "Search", "USD", "America/New_York", 2, 2, 2)
    simulator = make_simulator([spec], clock.now, seed=4, history_days=20)
    ad_sets = [e for e in simulator.entities("g") if e.level == "ad_set"]
    first = ad_sets[0]
    siblings = [e.entity_id for e in ad_sets if e.parent_id == first.parent_id]
    others = [e.entity_id for e in ad_sets if e.parent_id != first.parent_id]
    assert len(siblings) == 2 and others
    cut = {"dimension": "region", "segment": "texas", "excluded": True}
    assert simulator.apply("g", [Mutation("exclude_location", "g", first.entity_id, cut, "k1")])[0].ok
    cut_day = clock.now().date()
    clock.current += timedelta(days=5)
    live = {e.entity_id: e for e in simulator.entities("g") if e.level == "ad_set"}
    assert all(live[s].attributes["excluded_segments"].get("region") == ["texas"] for s in siblings)
    assert all("region" not in live[s].attributes["excluded_segments"] for s in others)  # another campaign
    after = cut_day + timedelta(days=2)
    rows = [r for r in simulator.segment_metrics("g", "region", after, after) if r.segment == "texas"]
    assert all(r.spend == 0 for r in rows if r.entity_id in siblings)
    assert any(r.spend > 0 for r in rows if r.entity_id in others)
    all_rows = list(simulator.segment_metrics("g", "region", after, after))
    totals = {m.entity_id: m.spend for m in simulator.daily_metrics("g", after, after) if m.level == "ad_set"}
    for ad_set in siblings:  # the campaign's money goes to the regions it keeps
        assert totals[ad_set] > 0
        assert sum(r.spend for r in all_rows if r.entity_id == ad_set) == totals[ad_set]
    # the undo gives the region back to the whole campaign
    assert simulator.apply("g", [Mutation("exclude_location", "g", siblings[1],
                                          {**cut, "excluded": False}, "k2")])[0].ok
    assert all(not e.attributes["excluded_segments"].get("region") for e in simulator.entities("g")
               if e.level == "ad_set")
