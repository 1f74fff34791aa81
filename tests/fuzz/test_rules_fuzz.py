"""Properties of user rules over random data: a rule never fires when its condition is false on the data
(checked against sums computed here, from the rows), and the evidence clause never fires where the plain
threshold would not (for conditions without `not`: under a `not`, "not proven" is what holds)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connectors.records import Entity, MetricRow
from policies.base import Snapshot
from policies.rules.evaluate import OPERATORS, RuleHistory, evaluate_rule
from policies.rules.schema import Rule, without_evidence
from tests.fuzz.settings import bounded

TODAY = date(2024, 6, 20)
WINDOWS = {"yesterday": 1, "last_3_days": 3, "last_7_days": 7}
RATIO_METRICS = ("cpa", "roas", "ctr", "cpc")


@st.composite
def days(draw: st.DrawFn) -> list[tuple[float, int, int, int, float]]:
    """Per day (newest last): spend, impressions, clicks, conversions, value."""
    result = []
    for _ in range(8):
        impressions = draw(st.integers(0, 5000))
        clicks = draw(st.integers(0, min(impressions, 300)))
        result.append((draw(st.sampled_from([0.0, 5.0, 40.0, 120.0, 333.33])), impressions, clicks,
                       draw(st.integers(0, 12)), draw(st.sampled_from([0.0, 50.0, 400.0]))))
    return result


def world(per_entity: dict[str, list[tuple[float, int, int, int, float]]]) -> Snapshot:
    entities = {e: Entity("meta", "acct", "ad_set", e, "c1", e, "ACTIVE", "USD", Decimal(100)) for e in per_entity}
    daily = {e: [MetricRow("meta", "acct", "ad_set", e, TODAY - timedelta(days=8 - i), "USD", Decimal(str(s)), imp,
                           clk, float(conv), Decimal(str(val)))
                 for i, (s, imp, clk, conv, val) in enumerate(data)] for e, data in per_entity.items()}
    return Snapshot("acct", "meta", "USD", "UTC", TODAY, entities, daily)


def observed(data: list[tuple[float, int, int, int, float]], metric: str, window: str) -> float | None:
    spend, impressions, clicks, conversions, value = (sum(day[i] for day in data[-WINDOWS[window]:]) for i in range(5))
    if metric == "spend":
        return spend
    if metric == "conversions":
        return conversions
    if metric == "ctr":
        return 100.0 * clicks / impressions if impressions else None
    if metric == "cpc":
        return spend / clicks if clicks else None
    if metric == "cpa":
        return spend / conversions if conversions else (float("inf") if spend > 0 else None)
    return value / spend if spend > 0 else None  # roas


comparisons = st.fixed_dictionaries({
    "metric": st.sampled_from(("spend", "conversions", *RATIO_METRICS)),
    "window": st.sampled_from(sorted(WINDOWS)),
    "op": st.sampled_from(sorted(OPERATORS)),
    "value": st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 20.0, 100.0]),
})


def evidence_clause(comparison: dict[str, Any], confidence: float) -> dict[str, Any]:
    if comparison["metric"] in RATIO_METRICS and comparison["op"] not in ("==", "!=") and comparison["value"] > 0:
        return {**comparison, "with_confidence": confidence}
    return comparison


monotone = st.recursive(comparisons, lambda inner: st.one_of(
    st.builds(lambda items: {"all": items}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda items: {"any": items}, st.lists(inner, min_size=1, max_size=3))), max_leaves=5)


def with_evidence(node: dict[str, Any], confidence: float) -> dict[str, Any]:
    if "all" in node:
        return {"all": [with_evidence(n, confidence) for n in node["all"]]}
    if "any" in node:
        return {"any": [with_evidence(n, confidence) for n in node["any"]]}
    return evidence_clause(node, confidence)


def fired(rule: Rule, snapshot: Snapshot) -> dict[str, bool]:
    return {t.entity_id: t.fired for t in evaluate_rule(rule, snapshot, RuleHistory())[1]}


@bounded
@given(data=days(), comparison=comparisons)
def test_a_rule_fires_exactly_when_its_condition_holds_on_the_data(
        data: list[tuple[float, int, int, int, float]], comparison: dict[str, Any]) -> None:
    rule = Rule.model_validate({"name": "r", "when": comparison, "then": [{"kind": "pause"}]})
    value = observed(data, comparison["metric"], comparison["window"])
    holds = value is not None and OPERATORS[comparison["op"]](value, comparison["value"])
    assert fired(rule, world({"a": data}))["a"] is holds


@bounded
@given(data=days(), comparison=comparisons)
def test_not_fires_exactly_when_the_condition_is_false(data: list[tuple[float, int, int, int, float]],
                                                       comparison: dict[str, Any]) -> None:
    plain = Rule.model_validate({"name": "r", "when": comparison, "then": [{"kind": "pause"}]})
    negated = Rule.model_validate({"name": "r", "when": {"not": comparison}, "then": [{"kind": "pause"}]})
    snapshot = world({"a": data})
    assert fired(negated, snapshot)["a"] is not fired(plain, snapshot)["a"]


@bounded
@given(first=days(), second=days(), condition=monotone, confidence=st.sampled_from([0.6, 0.9, 0.99]))
def test_the_evidence_clause_never_fires_where_the_plain_threshold_would_not(
        first: list[tuple[float, int, int, int, float]], second: list[tuple[float, int, int, int, float]],
        condition: dict[str, Any], confidence: float) -> None:
    rule = Rule.model_validate({"name": "r", "when": with_evidence(condition, confidence), "then": [{"kind": "pause"}]})
    snapshot = world({"a": first, "b": second})  # two ad sets: the account prior is not the ad set itself
    with_clause, plain = fired(rule, snapshot), fired(without_evidence(rule), snapshot)
    assert all(plain[entity] for entity, did in with_clause.items() if did)
