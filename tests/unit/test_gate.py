"""Conflicts between one cycle's proposals: one state change per entity, budget plans whole."""

from __future__ import annotations

from agent.gate import resolve_conflicts
from policies.base import Proposal


def budget(entity_id: str, before: str, after: str, policy: str = "pacing", plan: str | None = None) -> Proposal:
    return Proposal(kind="set_budget", policy=policy, account_id="a", entity_id=entity_id, entity_level="ad_set",
                    entity_name=entity_id, rationale="r",
                    change={"from": {"daily_budget": before}, "to": {"daily_budget": after}},
                    evidence={"plan": {"id": plan}} if plan else {})


def test_a_plan_that_loses_one_leg_loses_all_of_them() -> None:
    legs = [budget("A", "100", "80", "reallocation", "p1"), budget("B", "100", "110", "reallocation", "p1"),
            budget("C", "100", "110", "reallocation", "p1")]
    pacing = [budget("B", "100", "90"), budget("D", "100", "90")]
    winners, losers = resolve_conflicts(legs + pacing)
    # pacing's lower budget wins on B; without its leg on B the plan would cut the total by 10
    assert sorted((p.entity_id, p.policy) for p in winners) == [("B", "pacing"), ("D", "pacing")]
    assert sorted(p.entity_id for p, _ in losers) == ["A", "B", "C"]
    assert all("budget plan lost the leg on B" in reason for p, reason in losers if p.entity_id in "AC")


def test_a_plan_whose_legs_all_win_stays_whole() -> None:
    legs = [budget("A", "100", "80", "reallocation", "p1"), budget("B", "100", "120", "reallocation", "p1")]
    winners, losers = resolve_conflicts([*legs, budget("A", "100", "90")])
    assert sorted((p.entity_id, p.policy) for p in winners) == [("A", "reallocation"), ("B", "reallocation")]
    assert [(p.entity_id, p.policy) for p, _ in losers] == [("A", "pacing")]
