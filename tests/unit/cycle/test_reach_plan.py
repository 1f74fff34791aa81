"""Which reach estimates a pull asks for: linear in ad sets when targeting is split, never asked
again while their definition is unchanged, up to a max age, on a refresh day of each estimate's own."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from agent.cycle import reach_plan
from agent.storage.store import StoredReach
from connectors.linkedin import reports as linkedin_reports
from connectors.meta import records as meta_records
from connectors.records import Audience, Entity, MetricRow
from policies.audience_overlap import overlap_pairs
from policies.settings import AudienceOverlapSettings
from tests.unit.policies.builders import entity

MONDAY = date(2026, 12, 7)
MAX_AGE = 28


def _campaign(market: str, index: int, ad_sets: int) -> list:
    found = [entity(f"c{index}", level="campaign", parent=None)]
    found += [entity(f"c{index}-s{n}", parent=f"c{index}", audience_ids=[f"c{index}-aud{n}"], countries=[market])
              for n in range(ad_sets)]
    return found


def test_ad_sets_in_different_countries_or_ages_are_never_paired() -> None:
    split = [entity("a", audience_ids=["1"], countries=["DE"]), entity("b", audience_ids=["2"], countries=["FR"]),
             entity("c", audience_ids=["3"], age_min=18, age_max=24), entity("d", audience_ids=["4"], age_min=25,
                                                                            age_max=65)]
    pairs = overlap_pairs(split)
    assert frozenset({"1", "2"}) not in pairs and frozenset({"3", "4"}) not in pairs
    assert frozenset({"1", "3"}) in pairs  # no age known for "a": it can overlap


def test_ad_sets_of_disjoint_genders_or_linkedin_age_ranges_are_never_paired() -> None:
    meta = [meta_records.ad_set_entity({"id": n, "name": n, "campaign_id": "c1", "status": "ACTIVE", "targeting": {
        "custom_audiences": [{"id": f"aud-{n}"}], **({"genders": genders} if genders else {})}}, "acct", "EUR")
        for n, genders in (("men", [1]), ("women", [2]), ("all", [1, 2]), ("unsaid", None))]
    pairs = overlap_pairs(meta)
    assert frozenset({"aud-men", "aud-women"}) not in pairs
    assert {frozenset({"aud-men", "aud-all"}), frozenset({"aud-women", "aud-unsaid"})} <= pairs

    def campaign(n: str, *clauses: dict) -> Entity:
        segment = {"or": {"urn:li:adTargetingFacet:audienceMatchingSegments": [f"urn:li:adSegment:{n}"]}}
        raw = {"id": n, "name": n, "campaignGroup": "urn:li:sponsoredCampaignGroup:1", "status": "ACTIVE",
               "targetingCriteria": {"include": {"and": [segment, *clauses]}}}
        return linkedin_reports.campaign_entity(raw, "acct", "EUR")

    ages = "urn:li:adTargetingFacet:ageRanges"
    young = {"or": {ages: ["urn:li:ageRange:(18,24)", "urn:li:ageRange:(25,34)"]}}
    older = {"or": {ages: ["urn:li:ageRange:(35,54)"]}}
    older_or_senior = {"or": {ages: ["urn:li:ageRange:(35,54)"],
                              "urn:li:adTargetingFacet:seniorities": ["urn:li:seniority:8"]}}
    junior, senior = ({"or": {"urn:li:adTargetingFacet:seniorities": [f"urn:li:seniority:{s}"]}} for s in (3, 8))
    linkedin = [campaign("1", young), campaign("2", older), campaign("3", older_or_senior),
                campaign("4", junior), campaign("5", senior)]
    pairs = overlap_pairs(linkedin)
    assert frozenset({"1", "2"}) not in pairs  # one age range per member
    assert frozenset({"1", "3"}) in pairs  # a young senior is in both
    assert frozenset({"4", "5"}) in pairs  # two current positions, two seniorities


def test_an_excluded_audience_or_one_both_target_is_not_paired() -> None:
    excluding = [entity("a", audience_ids=["1"], excluded_audience_ids=["2"]), entity("b", audience_ids=["2"])]
    both = [entity("a", audience_ids=["1", "2"]), entity("b", audience_ids=["1", "2"])]
    paused = [entity("a", audience_ids=["1"]), entity("b", audience_ids=["2"], status="PAUSED")]
    assert overlap_pairs(excluding) == overlap_pairs(both) == overlap_pairs(paused) == set()
    assert overlap_pairs([entity("a", audience_ids=["1"]), entity("b", audience_ids=["2"])]) == {frozenset({"1", "2"})}


def test_estimates_grow_with_ad_sets_not_their_square_when_campaigns_split_markets() -> None:
    def asked(campaigns: int) -> int:
        entities = [e for c in range(campaigns) for e in _campaign(f"M{c}", c, 5)]
        return len(reach_plan.wanted_keys(entities))

    assert asked(10) == 2 * asked(5)  # double the campaigns, double the estimates
    assert asked(5) == 25 + 5 * 10  # each audience, and the 10 pairs within each market's 5 ad sets


def _stored(definitions: dict, on: date) -> dict:
    return {key: StoredReach(1000, definition, on) for key, definition in definitions.items()}


def test_an_unchanged_definition_is_reused_until_its_own_refresh_day_and_never_past_the_max_age() -> None:
    entities = _campaign("DE", 1, 3)
    audiences = [Audience("acct", f"c1-aud{n}", f"Audience {n}", 5000) for n in range(3)]
    keys = reach_plan.wanted_keys(entities)
    definitions = reach_plan.definitions(keys, entities, audiences)
    stored = _stored(definitions, MONDAY)
    asked_on: dict[frozenset[str], list[int]] = {key: [] for key in keys}
    for day in range(1, 2 * MAX_AGE + 1):
        for key in reach_plan.keys_to_ask(MONDAY + timedelta(days=day), definitions, stored, MAX_AGE):
            asked_on[key].append(day)
            stored[key] = StoredReach(1000, definitions[key], MONDAY + timedelta(days=day))
    for key, days in asked_on.items():
        assert len(days) in (1, 2), (key, days)  # once or twice in two max ages, never every day
        ages = [days[0], *(b - a for a, b in zip(days, days[1:], strict=False))]
        assert max(ages) <= MAX_AGE and all(age == MAX_AGE for age in ages[1:])
    assert len({days[0] for days in asked_on.values()}) > 1  # not all on the same day

    renamed = [Audience("acct", "c1-aud0", "Audience 0, new rule", 5000), *audiences[1:]]
    changed = reach_plan.definitions(keys, entities, renamed)
    fresh = _stored(definitions, MONDAY)
    asked = reach_plan.keys_to_ask(MONDAY + timedelta(days=1), changed, fresh, MAX_AGE)
    assert asked and set(asked) == {key for key in keys if "c1-aud0" in key}  # only those that involve it
    assert reach_plan.keys_to_ask(MONDAY + timedelta(days=1), definitions, fresh, MAX_AGE) == []


def test_refreshes_are_spread_over_the_max_age_across_estimates() -> None:
    definitions = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(2800)]
    days = Counter(reach_plan.refresh_offset(d, MAX_AGE) for d in definitions)
    assert set(days) == set(range(MAX_AGE)) and max(days.values()) < 2 * min(days.values())
    assert reach_plan.refresh_offset("abc", MAX_AGE) == reach_plan.refresh_offset("abc", MAX_AGE)
    # a week of steady refreshes asks about 7 / 28 of the unchanged estimates, whichever week
    for week in range(4):
        first = MONDAY + timedelta(days=7 * week)
        due = sum(1 for d in definitions if any(
            reach_plan.refresh_period(d, first + timedelta(days=n), MAX_AGE)
            != reach_plan.refresh_period(d, first + timedelta(days=n - 1), MAX_AGE) for n in range(7)))
        assert 0.2 < due / len(definitions) < 0.3


def _spend_row(ad_set: str, day: date, spend: str) -> MetricRow:
    return MetricRow("meta", "acct", "ad_set", ad_set, day, "EUR", Decimal(spend), 100, 5, 1.0, Decimal("10"))


def test_ad_sets_under_the_policys_min_spend_are_not_estimated() -> None:
    settings = AudienceOverlapSettings(min_spend=Decimal("50"), window_days=14)
    entities = _campaign("DE", 1, 3)  # ad sets c1-s0..c1-s2 targeting c1-aud0..c1-aud2
    pulled_from = MONDAY - timedelta(days=3)
    earlier = {"c1-s0": Decimal("40"), "c1-s1": Decimal("60")}  # stored days before the pull window
    rows = [_spend_row("c1-s0", pulled_from, "15"), _spend_row("c1-s2", pulled_from, "49"),
            _spend_row("c1-s2", MONDAY - timedelta(days=30), "500")]  # outside the window: not counted
    competing = reach_plan.competing_ad_sets(MONDAY, settings, earlier, pulled_from, rows)
    assert competing == {"c1-s0": Decimal("55"), "c1-s1": Decimal("60")}
    assert reach_plan.wanted_keys(entities, competing) == [
        frozenset({"c1-aud0"}), frozenset({"c1-aud1"}), frozenset({"c1-aud0", "c1-aud1"})]
    assert reach_plan.wanted_keys(entities, set()) == []
    assert reach_plan.stored_days_before(MONDAY, settings, pulled_from) == (
        MONDAY - timedelta(days=14), pulled_from - timedelta(days=1))


def test_singles_whose_size_the_audience_read_gives_are_not_estimated() -> None:
    entities = _campaign("DE", 1, 3)
    keys = reach_plan.wanted_keys(entities, sized=["c1-aud0", "c1-aud2"])
    assert frozenset({"c1-aud1"}) in keys
    assert not {frozenset({"c1-aud0"}), frozenset({"c1-aud2"})} & set(keys)
    assert sum(1 for key in keys if len(key) == 2) == 3  # every pair is still asked


def test_with_a_partner_cap_each_ad_set_is_paired_with_the_top_spenders_only() -> None:
    entities = _campaign("DE", 1, 10)  # one market: every pair can overlap
    spend = {f"c1-s{n}": Decimal(100 + 10 * n) for n in range(10)}  # c1-s9 spends the most
    every = overlap_pairs(entities, spend)
    capped = overlap_pairs(entities, spend, max_partners=2)
    assert len(every) == 45 and len(capped) == 2 * 8 + 1  # linear: the two top spenders with each other and all
    assert all({"c1-aud9", "c1-aud8"} & key for key in capped)
    assert frozenset({"c1-aud0", "c1-aud1"}) not in capped  # two low spenders are not compared
    assert overlap_pairs(entities, set(spend), max_partners=2) == every  # no spend known: no cap
    # a small account: 15 pairs of 6 ad sets are within 4 partners per ad set, and all are kept
    small = _campaign("DE", 1, 6)
    small_spend = {f"c1-s{n}": Decimal(100 + 10 * n) for n in range(6)}
    assert overlap_pairs(small, small_spend, max_partners=4) == overlap_pairs(small, small_spend) != set()
    assert len(overlap_pairs(small, small_spend, max_partners=2)) < 15  # 15 pairs > 2 x 6: capped

    def asked(ad_sets: int) -> int:
        spends = {f"c1-s{n}": Decimal(n + 50) for n in range(ad_sets)}
        return len(reach_plan.wanted_keys(_campaign("DE", 1, ad_sets), spends, max_partners=4))

    assert asked(20) == 20 + 4 * 16 + 6 and asked(40) == 40 + 4 * 36 + 6  # (partners + 1) per ad set at most
