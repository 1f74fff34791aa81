"""Ad rotation in the simulator: an ad group rotating its ads evenly shows them about equally often,
while the default (OPTIMIZE) favours the stronger ad; clicks follow each ad's strength either way,
and only Google ad groups have the setting."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest

from agent.clock import FixedClock
from connectors.errors import InvalidMutation
from connectors.records import Mutation
from connectors.simulator.dynamics import AppliedMutation, Observation, Truth, check_mutations, simulate
from connectors.simulator.latent import creative_mix
from connectors.simulator.world import SimAccountSpec, SimAdSet, World, build_world
from tests.fakes.platform_fixtures import make_simulator

START = date(2025, 3, 3)
SWITCH = START + timedelta(days=10)  # the day the test begins
AS_OF = START + timedelta(days=31)  # three weeks of test, reported on
SPECS = (SimAccountSpec("g", "google_ads", "Search", "USD", "America/New_York", 2, 3, 2),
         SimAccountSpec("m", "meta", "Social", "EUR", "Europe/Berlin", 1, 1, 2))


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(5, SPECS, START)


def _contrasted_ad_group(world: World) -> SimAdSet:
    """The Google ad group whose two ads differ most in strength (clearly, or the test means nothing)."""
    groups = [s for s in world.ad_sets_by_id.values() if s.account_id == "g"]
    chosen = max(groups, key=lambda s: max(a.ctr_multiplier for a in s.ads) / min(a.ctr_multiplier for a in s.ads))
    strengths = sorted(a.ctr_multiplier for a in chosen.ads)
    assert len(chosen.ads) == 2 and strengths[1] / strengths[0] > 1.4
    return chosen


def _rotation(ad_set_id: str, mode: object, account_id: str = "g", day: date = SWITCH) -> AppliedMutation:
    return AppliedMutation("set_ad_rotation", account_id, ad_set_id, {"ad_rotation": mode}, day)


def _totals(observation: Observation, ad_set: SimAdSet) -> dict[str, tuple[int, int]]:
    """The strong and the weak ad's impressions and clicks over the test's days."""
    impressions: dict[str, int] = defaultdict(int)
    clicks: dict[str, int] = defaultdict(int)
    for row in observation.metrics:
        if row.level == "ad" and row.entity_id in {a.ad_id for a in ad_set.ads} and row.day >= SWITCH:
            impressions[row.entity_id] += row.impressions
            clicks[row.entity_id] += row.clicks
    strong, weak = sorted(ad_set.ads, key=lambda a: -a.ctr_multiplier)
    return {"strong": (impressions[strong.ad_id], clicks[strong.ad_id]),
            "weak": (impressions[weak.ad_id], clicks[weak.ad_id])}


def test_even_rotation_shares_impressions_equally_and_clicks_still_follow_strength(world: World) -> None:
    ad_set = _contrasted_ad_group(world)
    optimized = _totals(simulate(world, [], AS_OF), ad_set)
    rotated = _totals(simulate(world, [_rotation(ad_set.ad_set_id, "ROTATE_FOREVER")], AS_OF), ad_set)

    (strong_views, strong_clicks), (weak_views, weak_clicks) = rotated["strong"], rotated["weak"]
    assert weak_views > 10_000  # enough traffic for the ratios to mean something
    assert strong_views / weak_views == pytest.approx(1.0, abs=0.08)
    assert (strong_clicks / strong_views) / (weak_clicks / weak_views) > 1.25  # CTR still differs by strength

    (strong_views, strong_clicks), (weak_views, weak_clicks) = optimized["strong"], optimized["weak"]
    assert strong_views / weak_views > 1.8  # OPTIMIZE favours the stronger ad (share ~ strength squared)
    assert (strong_clicks / strong_views) / (weak_clicks / weak_views) > 1.25


def test_rotation_is_reported_changed_and_restored(world: World) -> None:
    ad_set = _contrasted_ad_group(world)
    restore = _rotation(ad_set.ad_set_id, "OPTIMIZE", day=SWITCH + timedelta(days=14))
    before = {e.entity_id: e for e in simulate(world, [], SWITCH).entities}
    during = {e.entity_id: e for e in simulate(world, [_rotation(ad_set.ad_set_id, "ROTATE_FOREVER")],
                                               SWITCH).entities}
    after = {e.entity_id: e for e in simulate(world, [_rotation(ad_set.ad_set_id, "ROTATE_FOREVER"), restore],
                                              restore.effective_day).entities}
    assert before[ad_set.ad_set_id].attributes["ad_rotation"] == "OPTIMIZE"
    assert during[ad_set.ad_set_id].attributes["ad_rotation"] == "ROTATE_FOREVER"
    assert during[ad_set.ad_set_id].last_changed is None  # not an edit of bidding: no learning, no cooldown
    assert after[ad_set.ad_set_id].attributes["ad_rotation"] == "OPTIMIZE"
    others = [e for e in during.values() if e.level == "ad_set" and e.entity_id != ad_set.ad_set_id]
    assert {e.attributes["ad_rotation"] for e in others if e.platform == "google_ads"} == {"OPTIMIZE"}
    assert all("ad_rotation" not in e.attributes for e in others if e.platform != "google_ads")


def test_setting_the_default_changes_nothing(world: World) -> None:
    ad_set = _contrasted_ad_group(world)
    baseline = simulate(world, [], AS_OF)
    no_op = simulate(world, [_rotation(ad_set.ad_set_id, "OPTIMIZE")], AS_OF)
    assert no_op.metrics == baseline.metrics and no_op.truth.true_roas == baseline.truth.true_roas


def test_the_truth_values_an_evenly_rotated_ad_group_by_its_even_creative_mix(world: World) -> None:
    ad_set = _contrasted_ad_group(world)
    optimized = simulate(world, [], AS_OF).truth
    rotated = simulate(world, [_rotation(ad_set.ad_set_id, "ROTATE_FOREVER")], AS_OF).truth

    def strengths(truth: Truth) -> list[float]:
        return [truth.creative_multiplier[a.ad_id] * truth.fatigue_multiplier[a.ad_id] for a in ad_set.ads]

    expected = creative_mix(strengths(rotated), even=True) / creative_mix(strengths(optimized))
    assert expected < 0.98  # showing the weak ad as often costs clicks, so value per impression
    assert rotated.true_roas[ad_set.ad_set_id] / optimized.true_roas[ad_set.ad_set_id] == pytest.approx(expected)


def test_only_google_ad_groups_take_a_rotation_and_only_the_two_modes(world: World) -> None:
    ad_set = _contrasted_ad_group(world)
    meta_ad_set = next(s for s in world.ad_sets_by_id.values() if s.account_id == "m")
    with pytest.raises(InvalidMutation, match="Google Ads ad group setting; meta has none"):
        check_mutations(world, [_rotation(meta_ad_set.ad_set_id, "ROTATE_FOREVER", account_id="m")])
    with pytest.raises(InvalidMutation, match="ad_rotation must be OPTIMIZE or ROTATE_FOREVER, got 'EVEN'"):
        check_mutations(world, [_rotation(ad_set.ad_set_id, "EVEN")])
    with pytest.raises(InvalidMutation, match="ad rotation is set on ad groups"):
        check_mutations(world, [_rotation(ad_set.campaign_id, "ROTATE_FOREVER")])


def test_the_simulated_platform_refuses_a_bad_rotation_for_that_mutation_alone() -> None:
    simulator = make_simulator(SPECS, FixedClock.at_day(date(2026, 5, 4), hour=12).now)
    google_group = next(e for e in simulator.entities("g") if e.level == "ad_set")
    meta_set = next(e for e in simulator.entities("m") if e.level == "ad_set")
    bad_value, good = simulator.apply("g", [
        Mutation("set_ad_rotation", "g", google_group.entity_id, {"ad_rotation": "rotate_forever"}, "k1"),
        Mutation("set_ad_rotation", "g", google_group.entity_id, {"ad_rotation": "ROTATE_FOREVER"}, "k2")])
    [meta] = simulator.apply("m", [Mutation("set_ad_rotation", "m", meta_set.entity_id,
                                            {"ad_rotation": "ROTATE_FOREVER"}, "k3")])
    assert not bad_value.ok and "'rotate_forever'" in str(bad_value.error)
    assert not meta.ok and "meta has none" in str(meta.error)
    assert good.ok
    assert [row["idempotency_key"] for row in simulator.mutation_log()] == ["k2"]
    live = {e.entity_id: e for e in simulator.entities("g")}
    assert live[google_group.entity_id].attributes["ad_rotation"] == "ROTATE_FOREVER"
