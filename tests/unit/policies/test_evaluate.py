"""evaluate(): every policy together, in an order that keeps their proposals consistent."""

from __future__ import annotations

from decimal import Decimal

from policies import POLICY_NAMES, evaluate
from policies.settings import PacingSettings, PolicySettings
from tests.unit.policies.builders import entity, rows, snapshot


def _account(monthly_budget: str | None = None):
    entities = [entity("A", budget="100"), entity("B", budget="100"), entity("L", budget="100")]
    data = (rows("A", 60, spend=100, conversions=4, value=400) + rows("B", 60, spend=100, conversions=2, value=150)
            + rows("L", 60, spend=100, conversions=0.5, value=20))
    return snapshot(entities, data, monthly_budget=Decimal(monthly_budget) if monthly_budget else None)


def test_a_paused_loser_gets_no_budget_and_budgets_move_to_the_winner() -> None:
    proposals = evaluate(_account(), PolicySettings())
    kinds = {(p.kind, p.entity_id) for p in proposals}
    assert ("pause", "L") in kinds
    assert not any(p.kind == "set_budget" and p.entity_id == "L" for p in proposals)
    raised = [p for p in proposals if p.kind == "set_budget" and p.entity_id == "A"]
    assert raised and Decimal(raised[0].change["to"]["daily_budget"]) > 100


def test_reallocation_and_pacing_on_one_budget_become_one_proposal() -> None:
    # 19 days at 300/day = 5700 spent; with L paused the rest of June would add 11 x 200: a 7900
    # month against a 7000 budget, so pacing scales budgets down on top of the reallocation.
    proposals = evaluate(_account("7000"), PolicySettings(pacing=PacingSettings(max_change_pct=0.5)))
    budget_proposals = [p for p in proposals if p.kind == "set_budget"]
    assert len({p.entity_id for p in budget_proposals}) == len(budget_proposals)
    merged = [p for p in budget_proposals if p.policy == "reallocation+pacing"]
    assert merged and "Then paced" in merged[0].rationale
    assert set(merged[0].evidence) == {"reallocation", "pacing"}


def test_only_restricts_the_policies_and_disabled_policies_stay_silent() -> None:
    assert {p.policy for p in evaluate(_account(), PolicySettings(), only={"underperformers"})} == {"underperformers"}
    quiet = PolicySettings.model_validate({name: {"enabled": False} for name in POLICY_NAMES})
    assert evaluate(_account("7000"), quiet) == []
