"""The rule schema: every condition form, window, combination and action is accepted; invalid rules are
refused naming the rule and the field; the committed JSON Schema is the one the models generate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.rules_config import parse_rules
from policies.rules.schema import AllOf, AnyOf, Comparison, NotOf, rules_json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "docs" / "rules.schema.json"


def rule(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "r1", "when": {"metric": "cpa", "window": "last_3_days", "op": ">", "value": 80},
                            "then": [{"kind": "pause"}]}
    base.update(overrides)
    return base


def accepted(raw: dict[str, Any]) -> Any:
    rules, problems = parse_rules([raw], account_ids=["acct"])
    assert problems == []
    return rules[0]


def refused(raw: dict[str, Any]) -> list[str]:
    rules, problems = parse_rules([raw], account_ids=["acct"])
    assert rules == () and problems
    return problems


@pytest.mark.parametrize("window", ["today", "yesterday", "month_to_date", "last_1_days", "last_7_days",
                                    "last_90_days"])
def test_every_window_is_accepted(window: str) -> None:
    assert accepted(rule(when={"metric": "spend", "window": window, "op": ">", "value": 1})).when.window == window


@pytest.mark.parametrize("window", ["last_0_days", "last_91_days", "last_week", "today ", "Yesterday"])
def test_a_bad_window_is_refused_by_rule_and_field(window: str) -> None:
    [problem] = refused(rule(when={"metric": "spend", "window": window, "op": ">", "value": 1}))
    assert problem.startswith("rule 'r1' (rules[0]): when.window: expected today, yesterday, month_to_date")
    assert repr(window) in problem


@pytest.mark.parametrize("metric", ["spend", "impressions", "clicks", "conversions", "conversion_value", "ctr",
                                    "cpc", "cpa", "roas", "frequency"])
@pytest.mark.parametrize("op", [">", ">=", "<", "<=", "==", "!="])
def test_every_metric_and_operator_compares_with_a_constant(metric: str, op: str) -> None:
    when = accepted(rule(when={"metric": metric, "window": "yesterday", "op": op, "value": 2})).when
    assert isinstance(when, Comparison) and (when.metric, when.op, when.value) == (metric, op, 2)


def test_comparison_with_another_window_and_with_the_budget() -> None:
    other = accepted(rule(when={"metric": "cpa", "window": "last_7_days", "op": ">",
                                "other": {"window": "last_28_days", "factor": 1.3}})).when
    assert other.other.window == "last_28_days" and other.other.factor == 1.3
    budget = accepted(rule(when={"metric": "spend", "window": "today", "op": ">=", "budget": 0.9})).when
    assert budget.budget == 0.9


def test_all_any_not_nest() -> None:
    when = accepted(rule(when={"all": [
        {"metric": "spend", "window": "last_3_days", "op": ">", "value": 200},
        {"any": [{"metric": "cpa", "window": "last_3_days", "op": ">", "value": 80},
                 {"not": {"metric": "conversions", "window": "last_3_days", "op": ">", "value": 0}}]},
    ]})).when
    assert isinstance(when, AllOf) and isinstance(when.all[1], AnyOf) and isinstance(when.all[1].any[1], NotOf)


@pytest.mark.parametrize("reference", [{}, {"value": 1, "budget": 1},
                                       {"value": 1, "other": {"window": "yesterday"}}])
def test_exactly_one_reference(reference: dict[str, Any]) -> None:
    [problem] = refused(rule(when={"metric": "spend", "window": "today", "op": ">", **reference}))
    assert "rule 'r1' (rules[0]): when: give exactly one of value, other or budget" in problem


@pytest.mark.parametrize("metric", ["roas", "cpa", "ctr", "cpc"])
def test_with_confidence_on_estimable_metrics(metric: str) -> None:
    when = accepted(rule(when={"metric": metric, "window": "last_7_days", "op": "<", "value": 2,
                               "with_confidence": 0.95})).when
    assert when.with_confidence == 0.95


@pytest.mark.parametrize(("when", "fragment"), [
    ({"metric": "spend", "window": "today", "op": ">", "value": 1, "with_confidence": 0.9},
     "spend is measured, not estimated"),
    ({"metric": "cpa", "window": "today", "op": ">", "other": {"window": "yesterday"}, "with_confidence": 0.9},
     "compares with a constant value only"),
    ({"metric": "cpa", "window": "today", "op": "==", "value": 3, "with_confidence": 0.9},
     "needs an ordering operator"),
    ({"metric": "cpa", "window": "today", "op": ">", "value": 3, "with_confidence": 1.0},
     "when.with_confidence: Input should be less than 1"),
])
def test_with_confidence_misuse_is_named(when: dict[str, Any], fragment: str) -> None:
    [problem] = refused(rule(when=when))
    assert problem.startswith("rule 'r1' (rules[0]): when") and fragment in problem


@pytest.mark.parametrize(("action", "kind"), [
    ({"kind": "pause"}, "pause"), ({"kind": "enable"}, "enable"), ({"kind": "set_budget", "amount": "50"}, "set_budget"),
    ({"kind": "change_budget_pct", "pct": -20}, "change_budget_pct"), ({"kind": "notify", "message": "look"}, "notify"),
    ({"kind": "add_label", "label": "needs review"}, "add_label"),
])
def test_every_action(action: dict[str, Any], kind: str) -> None:
    assert accepted(rule(then=[action])).then[0].kind == kind


@pytest.mark.parametrize(("then", "fragment"), [
    ([{"kind": "add_label"}], "then[0].label: required key is missing"),
    ([{"kind": "add_label", "label": " padded "}], "then[0].label"),
    ([{"kind": "add_label", "label": "x" * 81}], "then[0].label"),
    ([{"kind": "explode"}], "then[0]: unknown action kind 'explode'"),
    ([{"kind": "change_budget_pct", "pct": 0}], "then[0].pct: a 0% change does nothing"),
    ([{"kind": "set_budget", "amount": "-5"}], "then[0].amount: Input should be greater than 0"),
    ([{"kind": "pause"}, {"kind": "enable"}], "then: pause and enable together undo each other"),
    ([], "then: List should have at least 1 item"),
])
def test_invalid_actions_are_named(then: list[dict[str, Any]], fragment: str) -> None:
    problems = refused(rule(then=then))
    assert any(fragment in p for p in problems), problems


def test_schedule_limits_scope_and_dry_run() -> None:
    parsed = accepted(rule(schedule={"daily_at": "09:30", "weekdays": ["sat", "sun"], "hours": [9, 10]},
                           max_per_period={"count": 2, "period": "week"}, dry_run=True,
                           scope={"accounts": ["acct"], "platforms": ["meta"], "level": "campaign",
                                  "names": ["Brand*"], "campaigns": ["*"]}))
    assert parsed.schedule.daily_at.hour == 9 and parsed.schedule.weekdays == ["sat", "sun"]
    assert parsed.max_per_period.count == 2 and parsed.dry_run and parsed.scope.level == "campaign"


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"schedule": {"hours": [24]}}, "schedule.hours: hours are 0..23"),
    ({"schedule": {"weekdays": ["saturday"]}}, "schedule.weekdays[0]"),
    ({"max_per_period": {"count": 0, "period": "week"}}, "max_per_period.count"),
    ({"max_per_period": {"count": 1, "period": "fortnight"}}, "max_per_period.period"),
    ({"scope": {"accounts": ["elsewhere"]}}, "scope.accounts: not configured: elsewhere"),
    ({"name": "Bad Name"}, "name: expected lower-case letters"),
    ({"whn": {}}, "whn: unknown key"),
])
def test_invalid_fields_are_named(overrides: dict[str, Any], fragment: str) -> None:
    problems = refused(rule(**overrides))
    assert any(fragment in p for p in problems), problems


def test_a_label_action_scoped_to_linkedin_is_refused_naming_the_rule() -> None:
    labelled = rule(then=[{"kind": "notify"}, {"kind": "add_label", "label": "review"}])
    _, by_platform = parse_rules([{**labelled, "scope": {"platforms": ["linkedin"]}}], account_ids=["acct", "li"],
                                 platforms=["meta", "linkedin"], account_platforms={"acct": "meta", "li": "linkedin"})
    _, by_account = parse_rules([{**labelled, "scope": {"accounts": ["li", "acct"]}}], account_ids=["acct", "li"],
                                account_platforms={"acct": "meta", "li": "linkedin"})
    assert by_platform == ["rule 'r1' (rules[0]): then[1]: add_label: LinkedIn has no labels, and the rule is "
                           "scoped to scope.platforms linkedin"]
    assert by_account == ["rule 'r1' (rules[0]): then[1]: add_label: LinkedIn has no labels, and the rule is "
                          "scoped to account(s) li"]
    unscoped, problems = parse_rules([labelled], account_ids=["acct", "li"], account_platforms={"acct": "meta", "li": "linkedin"})
    assert problems == [] and unscoped[0].then[1].kind == "add_label"  # LinkedIn's entities are skipped instead


def test_scope_by_label() -> None:
    assert accepted(rule(scope={"labels": ["brand", "core"]})).scope.labels == ["brand", "core"]


def test_duplicate_names_refuse_the_whole_set() -> None:
    rules, problems = parse_rules([rule()], files=[("rules/a.yaml rules[0]", rule())], account_ids=["acct"])
    assert rules == ()
    assert problems == ["rule 'r1' (rules/a.yaml rules[0]): name: 'r1' is already the name of the rule at rules[0]"]


def test_one_bad_rule_loads_none() -> None:
    rules, problems = parse_rules([rule(), rule(name="r2", then=[{"kind": "explode"}])], account_ids=["acct"])
    assert rules == () and len(problems) == 1 and problems[0].startswith("rule 'r2' (rules[1])")


def test_committed_json_schema_is_up_to_date() -> None:
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == rules_json_schema(), "regenerate: paid-media-agent rules schema > docs/rules.schema.json"


def test_scoped_platforms_must_be_those_of_a_configured_account() -> None:
    ok = rule(scope={"platforms": ["meta"]})
    assert parse_rules([ok], account_ids=["acct"], platforms=["meta", "simulator"])[1] == []
    _, problems = parse_rules([rule(scope={"platforms": ["metaa"]})], account_ids=["acct"], platforms=["meta"])
    assert problems == ["rule 'r1' (rules[0]): scope.platforms: no configured account is on metaa (the platforms: meta)"]
