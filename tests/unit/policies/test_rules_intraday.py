"""Which rules make the pull read today's partial rows, and how those rows join the rules' snapshot
(the `today` and `month_to_date` windows see them; the complete days are left as they are)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from agent.decisions.user_rules import with_today
from policies.rules.evaluate import RuleHistory, evaluate_rule
from policies.rules.intraday import reads_current_day, wants_intraday
from policies.rules.schema import Rule
from tests.unit.policies.builders import TODAY, entity, rows, snapshot


def make(when: dict[str, Any], **extra: Any) -> Rule:
    return Rule.model_validate({"name": "r", "when": when, "then": [{"kind": "pause"}], **extra})


def spend(window: str, **more: Any) -> dict[str, Any]:
    return {"metric": "spend", "window": window, "op": ">", "value": 10, **more}


def test_rules_reading_the_current_day_are_found_in_any_condition() -> None:
    assert reads_current_day(make(spend("today")))
    assert reads_current_day(make({"all": [spend("yesterday"), {"not": spend("month_to_date")}]}))
    assert reads_current_day(make({"metric": "spend", "window": "yesterday", "op": ">",
                                   "other": {"window": "today"}}))
    assert not reads_current_day(make(spend("last_7_days")))
    assert not reads_current_day(make({"metric": "budget", "window": "today", "op": ">", "value": 1}))
    scoped = make(spend("today"), scope={"accounts": ["a"]})
    assert wants_intraday([scoped], "a", "meta") and not wants_intraday([scoped], "b", "meta")
    assert not wants_intraday([make(spend("today"), enabled=False)], "a", "meta")


def test_partial_rows_feed_today_and_month_to_date_only() -> None:
    base = snapshot([entity("a")], rows("a", 10, spend=100, conversions=1, value=100))
    partial = [replace(base.daily["a"][-1], day=TODAY, spend=base.daily["a"][-1].spend / 4)]
    joined = with_today(base, partial)
    assert [r.day for r in joined.daily["a"]][-2:] == [TODAY - timedelta(days=1), TODAY]
    _, traces = evaluate_rule(make(spend("today")), joined, RuleHistory())
    assert traces[0].fired and traces[0].comparisons[0].value == 25
    _, before = evaluate_rule(make(spend("today")), base, RuleHistory())
    assert not before[0].fired and before[0].comparisons[0].note == "no data"  # no partial rows: no data
    _, yesterday = evaluate_rule(make(spend("yesterday")), joined, RuleHistory())
    assert yesterday[0].comparisons[0].value == 100
    assert with_today(base, []) is base
