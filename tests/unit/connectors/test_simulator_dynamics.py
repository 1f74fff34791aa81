"""Day-by-day simulation: determinism, restated days, mutations, incidents and common random numbers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.errors import InvalidMutation
from connectors.records import MetricRow
from connectors.simulator import dynamics
from connectors.simulator.creative import ctr_multiplier
from connectors.simulator.dynamics import AppliedMutation, Observation, check_mutations, simulate
from connectors.simulator.world import DEMO_SPECS, World, build_world

START = date(2025, 3, 3)
SEED = 21


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(SEED, DEMO_SPECS, START)


def day(offset: int) -> date:
    return START + timedelta(days=offset)


def mutation(kind: str, world: World, entity_id: str, effective: int, **params: Any) -> AppliedMutation:
    account_id = next(a.account_id for a in world.accounts if entity_id.startswith(a.account_id + "-"))
    return AppliedMutation(kind, account_id, entity_id, params, day(effective))


def ad_set_rows(observation: Observation) -> dict[tuple[str, date], MetricRow]:
    return {(r.entity_id, r.day): r for r in observation.metrics if r.level == "ad_set"}


def rows_of(observation: Observation, entity_ids: Sequence[str]) -> list[MetricRow]:
    wanted = set(entity_ids)
    return [r for r in observation.metrics if r.entity_id in wanted]


def test_same_seed_mutations_and_day_give_identical_observations(world: World) -> None:
    changes = [mutation("set_budget", world, "sim-meta-de-c1-s1", 20, daily_budget="55.00")]
    first = simulate(world, changes, day(60))
    dynamics._runs.clear()  # also from scratch, not from the memo
    again = simulate(build_world(SEED, DEMO_SPECS, START), changes, day(60))
    assert first.metrics == again.metrics
    assert first.search_terms == again.search_terms
    assert first.entities == again.entities
    assert first.truth.true_roas == again.truth.true_roas


def test_resuming_a_memoised_run_gives_the_same_answer_as_a_fresh_run(world: World) -> None:
    simulate(world, [], day(30))
    changes = [mutation("pause", world, "sim-google-us-c2", 31)]
    resumed = simulate(world, changes, day(50))
    fresh = simulate(build_world(SEED, DEMO_SPECS, START), changes, day(50))
    assert resumed.metrics == fresh.metrics and resumed.entities == fresh.entities


def test_recent_days_are_restated_as_late_conversions_arrive_and_old_days_are_final(world: World) -> None:
    early, later, much_later = simulate(world, [], day(60)), simulate(world, [], day(70)), simulate(world, [], day(100))
    early_rows, later_rows, final_rows = ad_set_rows(early), ad_set_rows(later), ad_set_rows(much_later)
    recent_growth = 0.0
    for (entity_id, row_day), row in early_rows.items():
        newer = later_rows[(entity_id, row_day)]
        assert newer.conversions >= row.conversions and newer.conversion_value >= row.conversion_value
        assert (newer.spend, newer.impressions, newer.clicks) == (row.spend, row.impressions, row.clicks)
        if row_day >= day(57):
            recent_growth += newer.conversions - row.conversions
        if (day(70) - row_day).days > 28:
            assert final_rows[(entity_id, row_day)] == newer  # older than 28 days: never changes again
    assert recent_growth > 0
    assert day(59) in {d for _, d in early_rows} and day(60) not in {d for _, d in early_rows}


def test_a_paused_ad_set_spends_nothing_from_its_effective_day(world: World) -> None:
    ad_set_id = "sim-meta-de-c2-s1"
    baseline = simulate(world, [], day(40))
    paused = simulate(world, [mutation("pause", world, ad_set_id, 25)], day(40))
    after = [r for r in rows_of(paused, [ad_set_id]) if r.day >= day(25)]
    assert sum((r.spend for r in after), Decimal(0)) == 0 and sum(r.impressions for r in after) == 0
    before = [r for r in rows_of(paused, [ad_set_id]) if r.day < day(25)]
    assert before == [r for r in rows_of(baseline, [ad_set_id]) if r.day < day(25)]
    entity = next(e for e in paused.entities if e.entity_id == ad_set_id)
    assert entity.status == "PAUSED" and entity.last_changed == day(25)


def test_pausing_a_campaign_stops_every_ad_set_in_it_and_enable_brings_them_back(world: World) -> None:
    campaign = world.campaigns_by_id["sim-google-us-c1"]
    ids = [s.ad_set_id for s in campaign.ad_sets]
    changes = [mutation("pause", world, campaign.campaign_id, 10), mutation("enable", world, campaign.campaign_id, 15)]
    observation = simulate(world, changes, day(30))
    spend_by_day: dict[date, Decimal] = defaultdict(Decimal)
    for row in rows_of(observation, ids):
        if row.level == "ad_set":
            spend_by_day[row.day] += row.spend
    assert all(spend_by_day.get(day(d), Decimal(0)) == 0 for d in range(10, 15))
    assert all(spend_by_day[day(d)] > 0 for d in range(15, 30))
    learning = {e.entity_id: e.learning for e in simulate(world, changes, day(16)).entities}
    assert all(learning[ad_set_id] for ad_set_id in ids)  # re-enabling restarts learning


def test_a_budget_cut_lowers_spend_below_the_new_budget(world: World) -> None:
    ad_set_id = "sim-linkedin-uk-c1-s2"
    budget = world.ad_sets_by_id[ad_set_id].daily_budget
    assert budget is not None
    new_budget = (budget * Decimal("0.4")).quantize(Decimal("0.01"))
    cut = simulate(world, [mutation("set_budget", world, ad_set_id, 30, daily_budget=str(new_budget))], day(50))
    base = simulate(world, [], day(50))
    spend_cut = [r.spend for r in rows_of(cut, [ad_set_id]) if r.level == "ad_set" and r.day >= day(30)]
    spend_base = [r.spend for r in rows_of(base, [ad_set_id]) if r.level == "ad_set" and r.day >= day(30)]
    assert sum(spend_cut) < sum(spend_base) * Decimal("0.6")
    spikes = {(a.entity_id, a.day) for a in cut.truth.anomalies if a.kind == "spend_spike"}
    for row in rows_of(cut, [ad_set_id]):
        if row.level == "ad_set" and row.day >= day(30) and (ad_set_id, row.day) not in spikes:
            assert row.spend <= new_budget * Decimal("1.02")
    entity = next(e for e in cut.entities if e.entity_id == ad_set_id)
    assert entity.daily_budget == new_budget and entity.last_changed == day(30)
    assert simulate(world, [mutation("set_budget", world, ad_set_id, 30, daily_budget=str(new_budget))],
                    day(31)).truth.learning[ad_set_id]


def test_a_google_campaign_budget_caps_its_ad_groups_together(world: World) -> None:
    campaign_id = "sim-google-us-c3"
    ids = [s.ad_set_id for s in world.campaigns_by_id[campaign_id].ad_sets]
    observation = simulate(world, [mutation("set_budget", world, campaign_id, 5, daily_budget="40.00")], day(20))
    spikes = {a.day for a in observation.truth.anomalies if a.entity_id in ids and a.kind == "spend_spike"}
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for row in rows_of(observation, ids):
        if row.level == "ad_set" and row.day >= day(5) and row.day not in spikes:
            totals[row.day] += row.spend
    assert totals and all(total <= Decimal("40.00") for total in totals.values())


def _world_with_an_outage() -> tuple[World, Observation, Any]:
    for seed in range(60):
        world = build_world(seed, DEMO_SPECS, START)
        observation = simulate(world, [], day(100))
        outages = [a for a in observation.truth.anomalies if a.kind == "tracking_outage" and a.day <= day(60)]
        if outages:
            return world, observation, outages[0]
    raise AssertionError("no tracking outage in 60 seeds: the injection rate is broken")


def test_a_tracking_outage_keeps_clicks_but_records_no_conversions() -> None:
    _, observation, outage = _world_with_an_outage()
    rows = [r for r in observation.metrics if r.account_id == outage.account_id and r.day == outage.day]
    assert sum(r.clicks for r in rows) > 0
    assert sum(r.conversions for r in rows) == 0 and sum(r.conversion_value for r in rows) == 0
    assert outage.entity_id == outage.account_id and outage.level == "account"


def test_a_spend_spike_multiplies_spend_with_poor_efficiency() -> None:
    for seed in range(40):
        world = build_world(seed, DEMO_SPECS, START)
        observation = simulate(world, [], day(90))
        spikes = [a for a in observation.truth.anomalies if a.kind == "spend_spike" and day(10) <= a.day <= day(80)]
        if spikes:
            break
    spike = spikes[0]
    rows = {r.day: r for r in rows_of(observation, [spike.entity_id]) if r.level == "ad_set"}
    normal = sorted(r.spend for d, r in rows.items() if d != spike.day)
    assert 3.0 <= spike.magnitude <= 5.0
    assert rows[spike.day].spend >= normal[len(normal) // 2] * Decimal("2.5")


def test_money_is_decimal_in_the_account_currency_and_yen_has_no_minor_units(world: World) -> None:
    observation = simulate(world, [], day(40))
    currency = {a.account_id: a.currency for a in world.accounts}
    exponent = {"USD": -2, "EUR": -2, "GBP": -2, "JPY": 0}
    for row in observation.metrics:
        assert row.currency == currency[row.account_id]
        for amount in (row.spend, row.conversion_value):
            assert isinstance(amount, Decimal) and amount.as_tuple().exponent == exponent[row.currency]
    for term in observation.search_terms:
        assert term.spend.as_tuple().exponent == exponent[currency[term.account_id]]
    for entity in observation.entities:
        if entity.daily_budget is not None:
            assert entity.daily_budget.as_tuple().exponent == exponent[entity.currency]


def test_ad_set_rows_are_the_sum_of_their_ads_and_search_terms_add_up_too(world: World) -> None:
    observation = simulate(world, [], day(35))
    parent = {e.entity_id: e.parent_id for e in observation.entities}
    ad_sums: dict[tuple[str, date], list[Any]] = defaultdict(lambda: [Decimal(0), 0, 0, 0.0, Decimal(0)])
    term_sums: dict[tuple[str, date], list[Any]] = defaultdict(lambda: [Decimal(0), 0, 0, 0.0, Decimal(0)])
    for row in observation.metrics:
        if row.level == "ad":
            totals = ad_sums[(str(parent[row.entity_id]), row.day)]
            for i, value in enumerate((row.spend, row.impressions, row.clicks, row.conversions, row.conversion_value)):
                totals[i] += value
    for term in observation.search_terms:
        totals = term_sums[(term.ad_group_id, term.day)]
        for i, value in enumerate((term.spend, term.impressions, term.clicks, term.conversions, term.conversion_value)):
            totals[i] += value
    for key, row in ad_set_rows(observation).items():
        expected = [row.spend, row.impressions, row.clicks, row.conversions, row.conversion_value]
        assert ad_sums[key] == expected
        if key[0].startswith("sim-google"):
            assert term_sums[key] == expected


def test_changing_one_budget_leaves_ad_sets_in_other_campaigns_untouched(world: World) -> None:
    meta_change = [mutation("set_budget", world, "sim-meta-de-c1-s1", 10, daily_budget="20.00")]
    google_change = [mutation("set_budget", world, "sim-google-jp-c1", 10, daily_budget="90000")]
    base = simulate(world, [], day(45))
    for changes, changed_campaign in ((meta_change, "sim-meta-de-c1"), (google_change, "sim-google-jp-c1")):
        changed = simulate(world, changes, day(45))
        account = changed_campaign.rsplit("-", 1)[0]
        others = [s for s in world.ad_sets_by_id if s.startswith(account) and not s.startswith(changed_campaign + "-")]
        assert others
        assert rows_of(changed, others) == rows_of(base, others)
        touched = [s.ad_set_id for s in world.campaigns_by_id[changed_campaign].ad_sets]
        assert rows_of(changed, touched) != rows_of(base, touched)


def test_negative_keywords_stop_the_terms_they_match_and_raise_roas(world: World) -> None:
    ad_group = world.ad_sets_by_id["sim-google-us-c2-s2"]
    irrelevant = [t.text for t in ad_group.search_terms if not t.relevant]
    negatives = [{"text": text, "match_type": "EXACT"} for text in irrelevant]
    change = mutation("add_negative_keywords", world, ad_group.ad_set_id, 20, keywords=negatives, list_name="junk")
    observation = simulate(world, [change], day(40))
    served = {t.search_term for t in observation.search_terms if t.ad_group_id == ad_group.ad_set_id and t.day >= day(20)}
    assert served and not served & set(irrelevant)
    before = {t.search_term for t in observation.search_terms if t.ad_group_id == ad_group.ad_set_id and t.day < day(20)}
    assert set(irrelevant) & before
    assert observation.truth.true_roas[ad_group.ad_set_id] > simulate(world, [], day(40)).truth.true_roas[ad_group.ad_set_id]
    entity = next(e for e in observation.entities if e.entity_id == ad_group.ad_set_id)
    assert {n["text"] for n in entity.attributes["negative_keywords"]} == set(irrelevant)


def test_a_phrase_negative_blocks_every_term_containing_it(world: World) -> None:
    campaign = world.campaigns_by_id["sim-google-us-c1"]
    change = mutation("add_negative_keywords", world, campaign.campaign_id, 5,
                      keywords=[{"text": "free", "match_type": "PHRASE"}])
    observation = simulate(world, [change], day(15))
    after = [t for t in observation.search_terms if t.campaign_id == campaign.campaign_id and t.day >= day(5)]
    assert after and not any("free" in t.search_term.split() for t in after)


def test_excluding_a_shared_audience_reduces_overlap(world: World) -> None:
    base = simulate(world, [], day(10))
    account = world.account("sim-meta-de")
    ad_set_id = max((s.ad_set_id for c in account.campaigns for s in c.ad_sets),
                    key=lambda s: base.truth.audience_overlap[s])
    own = world.ad_sets_by_id[ad_set_id].audience_ids
    others = [a.audience_id for a in account.audiences if a.audience_id not in own]
    observation = base
    for audience_id in others:
        changes = [mutation("exclude_audience", world, ad_set_id, 5, audience_id=audience_id)]
        observation = simulate(world, changes, day(10))
        if observation.truth.audience_overlap[ad_set_id] < base.truth.audience_overlap[ad_set_id]:
            break
    assert observation.truth.audience_overlap[ad_set_id] < base.truth.audience_overlap[ad_set_id]


def test_a_new_ad_is_scored_by_the_hidden_creative_function_and_delivers(world: World) -> None:
    ad_set_id = "sim-meta-de-c3-s1"
    params = {"ad_set_id": ad_set_id, "headline": "Fresh beans, 20% off today", "description": "Roasted to order.",
              "status": "ACTIVE", "new_ad_id": f"{ad_set_id}-new1"}
    observation = simulate(world, [mutation("new_ad", world, ad_set_id, 12, **params)], day(25))
    theme = world.ad_sets_by_id[ad_set_id].theme
    expected = ctr_multiplier("meta", [params["headline"]], [params["description"]], theme)
    assert observation.truth.creative_multiplier[f"{ad_set_id}-new1"] == expected
    rows = rows_of(observation, [f"{ad_set_id}-new1"])
    assert rows and min(r.day for r in rows) == day(12)
    entity = next(e for e in observation.entities if e.entity_id == f"{ad_set_id}-new1")
    assert entity.parent_id == ad_set_id and entity.attributes["headline"] == params["headline"]
    assert entity.attributes["created"] == day(12).isoformat() and entity.last_changed == day(12)
    paused = simulate(world, [mutation("new_ad", world, ad_set_id, 12, **{**params, "status": "PAUSED"})], day(25))
    assert not rows_of(paused, [f"{ad_set_id}-new1"])


def test_learning_ends_after_about_a_week(world: World) -> None:
    changes = [mutation("set_budget", world, "sim-meta-de-c2-s2", 10, daily_budget="400.00")]
    assert simulate(world, changes, day(12)).truth.learning["sim-meta-de-c2-s2"]
    assert not simulate(world, changes, day(18)).truth.learning["sim-meta-de-c2-s2"]


def test_fatigue_wears_down_heavily_shown_social_ads(world: World) -> None:
    observation = simulate(world, [], day(120))
    social = {k: v for k, v in observation.truth.fatigue_multiplier.items() if "google" not in k}
    assert any(value < 0.9 for value in social.values())
    tired = min(social, key=lambda k: social[k])
    rows = rows_of(observation, [tired])
    early = [r for r in rows if r.day < day(14)]
    late = [r for r in rows if r.day >= day(106)]
    assert sum(r.clicks for r in late) / sum(r.impressions for r in late) < sum(r.clicks for r in early) / sum(
        r.impressions for r in early
    )


def test_truth_separates_losers_from_winners(world: World) -> None:
    observation = simulate(world, [], day(90))
    spend: dict[str, Decimal] = defaultdict(Decimal)
    value: dict[str, Decimal] = defaultdict(Decimal)
    for key, row in ad_set_rows(observation).items():
        spend[key[0]] += row.spend
        value[key[0]] += row.conversion_value
    for ad_set_id, kind in observation.truth.archetype.items():
        if kind == "loser":
            assert observation.truth.true_roas[ad_set_id] < 1 and value[ad_set_id] < spend[ad_set_id]
        if kind == "headroom_winner":
            assert observation.truth.budget_limited[ad_set_id]
            assert observation.truth.true_marginal_roas[ad_set_id] > 1


def test_a_mutation_the_platform_cannot_apply_is_reported_not_fatal(world: World) -> None:
    bad = mutation("set_budget", world, "sim-meta-de-c1", 5, daily_budget="50.00")  # Meta budgets are per ad set
    observation = simulate(world, [bad], day(10))
    assert observation.ignored_mutations and "per ad set" in observation.ignored_mutations[0][1]
    with pytest.raises(InvalidMutation, match="per ad set"):
        check_mutations(world, [bad])
    with pytest.raises(InvalidMutation, match="no entity"):
        check_mutations(world, [mutation("pause", world, "sim-meta-de-c9", 5)])
