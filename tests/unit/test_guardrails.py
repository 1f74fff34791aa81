"""Guardrails, rule by rule, on hand-made entities and histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from agent.decisions.guardrails import GuardrailContext, check
from agent.settings import FreezeWindow, GuardrailSettings
from agent.storage.action_states import ExecutedChange
from connectors.records import Entity

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 16:00 in Berlin


def entity(entity_id: str, budget: str | None = "100.00", parent: str | None = "c1", level: str = "ad_set",
           status: str = "ACTIVE") -> Entity:
    return Entity(platform="meta", account_id="a", level=level, entity_id=entity_id,  # type: ignore[arg-type]
                  parent_id=parent, name=entity_id, status=status, currency="EUR",  # type: ignore[arg-type]
                  daily_budget=Decimal(budget) if budget else None)


ENTITIES = {
    "c1": entity("c1", budget=None, parent=None, level="campaign"),
    "s1": entity("s1", "100.00"),
    "s2": entity("s2", "200.00"),
    "s3": entity("s3", "50.00", parent="c2"),
}


def budget_change(before: str, after: str) -> dict[str, Any]:
    return {"from": {"daily_budget": before}, "to": {"daily_budget": after}}


def ctx(history: list[ExecutedChange] | None = None, **kwargs: Any) -> GuardrailContext:
    return GuardrailContext(now=NOW, timezone="Europe/Berlin", entities=ENTITIES, history=history or [], **kwargs)


def rules(kind: str, entity_id: str, change: dict[str, Any], settings: GuardrailSettings | None = None,
          context: GuardrailContext | None = None, evidence: dict[str, Any] | None = None,
          policy: str = "reallocation") -> list[tuple[str, str]]:
    violations = check(kind=kind, entity_id=entity_id, change=change, evidence=evidence or {}, policy=policy,
                       settings=settings or GuardrailSettings(), ctx=context or ctx())
    return [(v.rule, v.severity) for v in violations]


def test_a_change_within_every_limit_passes() -> None:
    assert rules("set_budget", "s1", budget_change("100.00", "120.00")) == []


def test_per_change_percentage_and_absolute_limits() -> None:
    assert rules("set_budget", "s1", budget_change("100.00", "121.00")) == [("max_budget_change_pct", "block")]
    assert rules("set_budget", "s1", budget_change("100.00", "79.00")) == [("max_budget_change_pct", "block")]
    settings = GuardrailSettings(max_budget_change_pct=50, max_budget_change_abs=Decimal("15"))
    assert rules("set_budget", "s1", budget_change("100.00", "116.00"), settings) == [
        ("max_budget_change_abs", "block")
    ]


def test_cumulative_daily_cap_counts_earlier_changes_today_in_the_account_time_zone() -> None:
    earlier = ExecutedChange("s1", "set_budget", budget_change("100.00", "120.00"), NOW - timedelta(hours=3))
    settings = GuardrailSettings(cooldown_hours={"default": 0})
    # 20 moved already, 15 more = 35% of the day's starting 100 > 30%
    assert rules("set_budget", "s1", budget_change("120.00", "105.00"), settings, ctx([earlier])) == [
        ("max_daily_budget_change_pct", "block")
    ]
    assert rules("set_budget", "s1", budget_change("120.00", "130.00"), settings, ctx([earlier])) == []
    # 23:30 Berlin time yesterday is another day: it does not count
    yesterday = ExecutedChange("s1", "set_budget", budget_change("100.00", "120.00"),
                               datetime(2026, 11, 22, 22, 30, tzinfo=UTC))
    assert rules("set_budget", "s1", budget_change("120.00", "105.00"), settings, ctx([yesterday])) == []


def test_platform_limit_on_budget_changes_per_hour() -> None:
    settings = GuardrailSettings(cooldown_hours={"default": 0}, max_daily_budget_change_pct=1000)
    recent = [ExecutedChange("s1", "set_budget", budget_change("100.00", "101.00"), NOW - timedelta(minutes=m))
              for m in (5, 10, 20, 40)]
    assert ("budget_changes_per_hour", "block") in rules(
        "set_budget", "s1", budget_change("100.00", "101.00"), settings, ctx(recent))


def test_account_and_campaign_caps_stop_raises_but_not_cuts() -> None:
    settings = GuardrailSettings(account_daily_budget_cap=Decimal("360"),
                                 campaign_daily_budget_caps={"c1": Decimal("310")})
    # s1 + s2 + s3 = 350 today; raising s1 by 15 makes 365 > 360 and c1 315 > 310
    assert rules("set_budget", "s1", budget_change("100.00", "115.00"), settings) == [
        ("account_daily_budget_cap", "block"), ("campaign_daily_budget_cap", "block")
    ]
    assert rules("set_budget", "s1", budget_change("100.00", "90.00"), settings) == []


def test_protected_entities_and_their_children_are_never_touched() -> None:
    pause = {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}
    assert rules("pause", "s1", pause, context=ctx(protected=frozenset({"s1"}))) == [("protected_entity", "block")]
    assert rules("pause", "s1", pause, context=ctx(protected=frozenset({"c1"}))) == [("protected_entity", "block")]
    assert rules("pause", "s3", pause, context=ctx(protected=frozenset({"c1"}))) == []


def test_cooldown_blocks_a_new_change_but_not_an_undo() -> None:
    paused = ExecutedChange("s1", "pause", {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}},
                            NOW - timedelta(hours=10))
    enable = {"from": {"status": "PAUSED"}, "to": {"status": "ACTIVE"}}
    assert rules("enable", "s1", enable, context=ctx([paused])) == [("cooldown", "block")]
    assert rules("enable", "s1", enable, context=ctx([paused]), policy="undo") == []
    settings = GuardrailSettings(cooldown_hours={"default": 72, "enable": 6})
    assert rules("enable", "s1", enable, settings, ctx([paused])) == []


def test_a_pause_is_not_held_back_by_an_earlier_budget_cut_but_a_budget_change_is() -> None:
    cut = ExecutedChange("s1", "set_budget", budget_change("120.00", "100.00"), NOW - timedelta(hours=20))
    pause = {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}
    assert rules("pause", "s1", pause, context=ctx([cut])) == []
    assert rules("set_budget", "s1", budget_change("100.00", "90.00"), context=ctx([cut])) == [("cooldown", "block")]
    enabled = ExecutedChange("s1", "enable", {"from": {"status": "PAUSED"}, "to": {"status": "ACTIVE"}},
                             NOW - timedelta(hours=20))
    assert rules("pause", "s1", pause, context=ctx([enabled])) == [("cooldown", "block")]  # no flip-flop


def test_review_and_hold_rules() -> None:
    pause = {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}
    settings = GuardrailSettings(
        min_confidence=0.9, max_actions_per_cycle=2,
        freeze_windows=(FreezeWindow(start=datetime(2026, 11, 23, 15, 30), end=datetime(2026, 11, 23, 18, 0),
                                     reason="Black Friday"),),
    )
    found = rules("pause", "s1", pause, settings,
                  ctx(kill_switch=True, automatic_actions_this_cycle=2), evidence={"confidence": 0.8})
    # 16:00 Berlin is inside the 15:30-18:00 local freeze window
    assert found == [("freeze_window", "hold"), ("kill_switch", "hold"), ("min_confidence", "review"),
                     ("max_actions_per_cycle", "review")]


def test_additive_changes_neither_start_nor_respect_a_cooldown() -> None:
    new_ad = ExecutedChange("s1", "new_ad", {"from": {}, "to": {"headline": "A"}}, NOW - timedelta(hours=1))
    assert rules("set_budget", "s1", budget_change("100.00", "110.00"), context=ctx([new_ad])) == []
    assert rules("new_ad", "s1", {"from": {}, "to": {"headline": "B"}}, context=ctx([new_ad])) == []
    paused = ExecutedChange("s1", "pause", {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}},
                            NOW - timedelta(hours=1))
    assert rules("exclude_audience", "s1", {"from": {}, "to": {"excluded_audience_id": "a9"}},
                 context=ctx([paused])) == []


def test_a_shared_budget_is_never_changed_for_one_campaign() -> None:
    shared = Entity(platform="google_ads", account_id="a", level="campaign", entity_id="g1", parent_id=None,
                    name="Brand", status="ACTIVE", currency="USD", daily_budget=Decimal("100.00"),
                    attributes={"budget_shared": True, "budget_campaigns": 3, "budget_name": "Brand pool",
                                "budget_resource": "customers/1/campaignBudgets/55"})
    own = Entity(platform="google_ads", account_id="a", level="campaign", entity_id="g2", parent_id=None,
                 name="Generic", status="ACTIVE", currency="USD", daily_budget=Decimal("100.00"),
                 attributes={"budget_shared": False, "budget_campaigns": 1})
    context = GuardrailContext(now=NOW, timezone="UTC", entities={"g1": shared, "g2": own}, history=[])
    violations = check(kind="set_budget", entity_id="g1", change=budget_change("100.00", "110.00"), evidence={},
                       policy="reallocation", settings=GuardrailSettings(), ctx=context)
    assert [(v.rule, v.severity) for v in violations] == [("shared_budget", "block")]
    assert "budget 'Brand pool' is shared by 3 campaigns" in violations[0].message
    assert check(kind="set_budget", entity_id="g2", change=budget_change("100.00", "110.00"), evidence={},
                 policy="reallocation", settings=GuardrailSettings(), ctx=context) == []
    assert check(kind="pause", entity_id="g1", change={}, evidence={}, policy="reallocation",
                 settings=GuardrailSettings(), ctx=context) == []


def test_a_segment_cut_may_take_at_most_its_share_of_delivery_and_one_per_cooldown() -> None:
    cut = {"from": {"dimension": "placement", "segment": "facebook_reels", "excluded": False},
           "to": {"dimension": "placement", "segment": "facebook_reels", "excluded": True}}
    assert rules("exclude_placement", "s1", cut, evidence={"spend_share": 0.35}) == []
    assert rules("exclude_placement", "s1", cut, evidence={"spend_share": 0.36}) == [
        ("max_segment_delivery_share", "block")]
    assert rules("exclude_placement", "s1", cut, GuardrailSettings(max_segment_delivery_share=0.5),
                 evidence={"spend_share": 0.36}) == []
    assert rules("exclude_placement", "s1", cut) == [("max_segment_delivery_share", "block")]  # share unknown
    earlier = ExecutedChange("s1", "exclude_placement", cut, NOW - timedelta(hours=20))
    assert rules("exclude_placement", "s1", cut, context=ctx([earlier]), evidence={"spend_share": 0.1}) == [
        ("cooldown", "block")]
    assert rules("exclude_placement", "s2", cut, context=ctx([earlier]), evidence={"spend_share": 0.1}) == []
    # another lever on the same ad set waits too: the first cut moves every dimension's figures
    age = {"from": {"dimension": "age", "segment": "18-24", "excluded": False},
           "to": {"dimension": "age", "segment": "18-24", "excluded": True}}
    assert rules("narrow_age_range", "s1", age, context=ctx([earlier]), evidence={"spend_share": 0.1}) == [
        ("cooldown", "block")]
    # the undo (delivering to the segment again) is never held back
    back = {"from": cut["to"], "to": cut["from"]}
    assert rules("exclude_placement", "s1", back, context=ctx([earlier]), policy="undo") == []
