"""Dayparting as platform schedules: the week a rule's window becomes, where it is written (Google:
the campaign; Meta: the ad set, lifetime budgets and on/off only; LinkedIn: nowhere), and the schema's
refusals."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from policies.rules.dayparting import weekly_blocks
from policies.rules.evaluate import RuleHistory, evaluate_rule
from policies.rules.schema import Rule, Schedule
from tests.unit.policies.builders import entity, rows, snapshot


def make(modifier: float, **schedule: Any) -> Rule:
    return Rule.model_validate({"name": "dim", "when": {"metric": "spend", "window": "yesterday", "op": ">",
                                                        "value": 0},
                                "then": [{"kind": "ad_schedule", "bid_modifier": modifier}], "schedule": schedule})


def test_a_window_becomes_a_whole_week_with_the_rest_at_one() -> None:
    blocks = weekly_blocks(Schedule(weekdays=["sat"], hours=[8, 9, 10, 20]), 0.5)
    saturday = [(b["start_hour"], b["end_hour"], b["bid_modifier"]) for b in blocks if b["day"] == "sat"]
    assert saturday == [(0, 8, 1.0), (8, 11, 0.5), (11, 20, 1.0), (20, 21, 0.5), (21, 24, 1.0)]
    assert [(b["day"], b["start_hour"], b["end_hour"]) for b in blocks if b["day"] == "mon"] == [("mon", 0, 24)]
    off = weekly_blocks(Schedule(weekdays=["sat", "sun"]), 0)
    assert {b["day"] for b in off} == {"mon", "tue", "wed", "thu", "fri"}  # unscheduled: no delivery


def test_google_schedules_go_on_the_campaign_once_and_meta_needs_a_lifetime_budget() -> None:
    google = snapshot([entity("c1", level="campaign", parent=None, platform="google_ads", budget="100",
                              ad_schedule=[]),
                       entity("a", platform="google_ads"), entity("b", platform="google_ads")],
                      [*rows("a", 3, spend=10, conversions=1, value=30), *rows("b", 3, spend=10, conversions=1,
                                                                                 value=30)])
    proposals, traces = evaluate_rule(make(0.8, weekdays=["sat", "sun"]), google, RuleHistory())
    assert [(p.entity_id, p.kind) for p in proposals] == [("c1", "set_ad_schedule")]
    assert proposals[0].change["from"] == {"ad_schedule": []}
    assert "already being set" in traces[1].outcome

    meta = snapshot([entity("m", budget="50", ad_schedule=[]), entity("l", ad_schedule=[])],
                    [*rows("m", 3, spend=10, conversions=1, value=30), *rows("l", 3, spend=10, conversions=1,
                                                                               value=30)])
    proposals, traces = evaluate_rule(make(0, weekdays=["sat"]), meta, RuleHistory())
    assert [p.entity_id for p in proposals] == ["l"]  # a lifetime budget (no daily one)
    assert "need a lifetime budget" in {t.entity_id: t.outcome for t in traces}["m"]
    _, traces = evaluate_rule(make(0.8, weekdays=["sat"]), meta, RuleHistory())
    assert all("only turn delivery on and off" in t.outcome for t in traces)


@pytest.mark.parametrize(("then", "schedule", "fragment"), [
    ([{"kind": "ad_schedule", "bid_modifier": 0.8}], {}, "set schedule.weekdays and/or schedule.hours"),
    ([{"kind": "ad_schedule", "bid_modifier": 0.05}], {"hours": [1]}, "0.1..10"),
    ([{"kind": "ad_schedule", "bid_modifier": 11}], {"hours": [1]}, "less than or equal to 10"),
    ([{"kind": "ad_schedule", "bid_modifier": 0.8}, {"kind": "pause"}], {"hours": [1]}, "goes alone"),
    ([{"kind": "ad_schedule", "bid_modifier": 0.8}], {"hours": [1, 5, 9]}, "3 separate ranges a day"),
])
def test_invalid_dimming_is_named(then: list[dict[str, Any]], schedule: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment.replace(".", r"\.")):
        Rule.model_validate({"name": "dim", "when": {"metric": "spend", "window": "yesterday", "op": ">", "value": 0},
                             "then": then, "schedule": schedule})
