"""Meta ad set schedules through the real SDK against the fake Graph API: an ad set with a lifetime
budget reports and takes an `adset_schedule` (with day-parting pacing), undo clears it back to standard
pacing, a daily-budget ad set is refused by Meta, and a bid modifier is refused before any call."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from connectors.records import Mutation
from tests.unit.connectors.test_meta import Rig, rig  # noqa: F401  (the fixture)

WEEKDAYS_ONLY: list[dict[str, Any]] = [{"day": d, "start_hour": 0, "end_hour": 24, "bid_modifier": 1.0}
                                       for d in ("mon", "tue", "wed", "thu", "fri")]


def _schedule(entity_id: str, blocks: list[dict[str, Any]], key: str) -> Mutation:
    return Mutation("set_ad_schedule", "shop-de", entity_id, {"ad_schedule": blocks}, key)


def _bodies(setup: Rig) -> list[str]:
    return [call.get("body", "") for kind, _, params in setup.fake.log if kind == "post:batch"
            for call in json.loads(params["batch"]) if "adset_schedule" in call.get("body", "")]


def test_a_lifetime_budget_ad_set_takes_a_schedule_and_undo_clears_it(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    sim_ad_set = next(e for e in rig.simulator.entities("m-de") if e.level == "ad_set")
    rig.fake.lifetime_ad_sets[sim_ad_set.entity_id] = Decimal("700")
    ad_set = next(e for e in connector.entities("shop-de") if e.level == "ad_set" and e.daily_budget is None)
    assert ad_set.attributes["lifetime_budget"] == "70000" and ad_set.attributes["ad_schedule"] == []

    [result] = connector.apply("shop-de", [_schedule(ad_set.entity_id, WEEKDAYS_ONLY, "k1")])
    assert result.ok, result.error
    sent = {key: json.loads(value[0]) for key, value in parse_qs(_bodies(rig)[-1]).items()}
    assert sent == {"adset_schedule": [{"days": [1, 2, 3, 4, 5], "start_minute": 0, "end_minute": 1440,
                                        "timezone_type": "USER"}], "pacing_type": ["day_parting"]}
    live = {e.entity_id: e for e in connector.entities("shop-de")}[ad_set.entity_id]
    assert live.attributes["ad_schedule"] == WEEKDAYS_ONLY

    [cleared] = connector.apply("shop-de", [_schedule(ad_set.entity_id, [], "k2")])
    assert cleared.ok and "standard" in _bodies(rig)[-1]
    assert {e.entity_id: e for e in connector.entities("shop-de")}[ad_set.entity_id].attributes["ad_schedule"] == []


def test_meta_refuses_a_schedule_on_a_daily_budget_and_a_modifier_is_refused_before_sending(
        rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    ad_set = next(e for e in connector.entities("shop-de") if e.level == "ad_set")
    [daily] = connector.apply("shop-de", [_schedule(ad_set.entity_id, WEEKDAYS_ONLY, "k1")])
    assert not daily.ok and "lifetime budget" in str(daily.error)
    sent = len(_bodies(rig))
    dimmed = [{**WEEKDAYS_ONLY[0], "bid_modifier": 0.8}]
    [modifier] = connector.apply("shop-de", [_schedule(ad_set.entity_id, dimmed, "k2")])
    assert not modifier.ok and "no bid modifier" in str(modifier.error) and len(_bodies(rig)) == sent
