"""Which reach estimates a pull asks for: linear in ad sets when targeting is split, never asked
again while unchanged, refreshed once a week on a day of the account's own."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from agent.cycle import reach_plan
from agent.storage.store import StoredReach
from connectors.records import Audience, MetricRow
from policies.audience_overlap import overlap_pairs
from policies.settings import AudienceOverlapSettings
from tests.unit.policies.builders import entity

MONDAY = date(2026, 12, 7)


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


def test_an_unchanged_definition_is_not_asked_again_until_the_accounts_refresh_day() -> None:
    entities = _campaign("DE", 1, 3)
    audiences = [Audience("acct", f"c1-aud{n}", f"Audience {n}", 5000) for n in range(3)]
    keys = reach_plan.wanted_keys(entities)
    definitions = reach_plan.definitions(keys, entities, audiences)
    account = "act_1"
    refresh = next(MONDAY + timedelta(days=d) for d in range(7)
                   if reach_plan.refresh_period(account, MONDAY + timedelta(days=d))
                   != reach_plan.refresh_period(account, MONDAY + timedelta(days=d - 1)))
    stored = _stored(definitions, refresh)
    for day in range(1, 7):
        assert reach_plan.keys_to_ask(account, refresh + timedelta(days=day), definitions, stored) == []
    assert set(reach_plan.keys_to_ask(account, refresh + timedelta(days=7), definitions, stored)) == set(keys)

    renamed = [Audience("acct", "c1-aud0", "Audience 0, new rule", 5000), *audiences[1:]]
    changed = reach_plan.definitions(keys, entities, renamed)
    asked = reach_plan.keys_to_ask(account, refresh + timedelta(days=1), changed, stored)
    assert asked and all("c1-aud0" in key for key in asked)  # only the estimates that involve it


def test_refresh_days_are_spread_over_the_week_across_accounts() -> None:
    days = Counter(reach_plan.refresh_offset(f"act_{n}") for n in range(700))
    assert set(days) == set(range(7)) and max(days.values()) < 2 * min(days.values())
    assert reach_plan.refresh_offset("act_5") == reach_plan.refresh_offset("act_5")


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
    assert competing == {"c1-s0", "c1-s1"}
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
