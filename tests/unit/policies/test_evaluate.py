"""evaluate(): every policy together, in an order that keeps their proposals consistent."""

from __future__ import annotations

from decimal import Decimal

from policies import POLICY_NAMES, evaluate, pacing_outlook
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
    assert set(merged[0].evidence) == {"reallocation", "pacing", "plan"}
    # pacing and reallocation make one plan: every budget move is a leg of it, and its total is theirs
    plans = {p.evidence["plan"]["id"] for p in budget_proposals}
    assert len(plans) == 1 and len(budget_proposals) >= 2
    plan = budget_proposals[0].evidence["plan"]
    assert plan["legs"] == sorted(p.entity_id for p in budget_proposals)
    assert Decimal(plan["total"]) == sum(Decimal(p.change["to"]["daily_budget"]) for p in budget_proposals)


def test_only_restricts_the_policies_and_disabled_policies_stay_silent() -> None:
    assert {p.policy for p in evaluate(_account(), PolicySettings(), only={"underperformers"})} == {"underperformers"}
    quiet = PolicySettings.model_validate({name: {"enabled": False} for name in POLICY_NAMES})
    assert evaluate(_account("7000"), quiet) == []


def test_with_pauses_on_observe_pacing_counts_on_no_pause_and_agrees_with_the_pacing_report() -> None:
    # L is a clear loser. On auto its pause runs and the rest of June is 11 x 200; with pauses on
    # observe (or propose) it may never run, so the month is 19 x 300 + 11 x 300 = 9000 against 7000.
    account = _account("7000")
    settings = PolicySettings(pacing=PacingSettings(max_change_pct=0.5))
    no_pause_runs = {"set_budget", "enable", "add_negative_keywords", "exclude_audience", "new_ad"}
    proposals = evaluate(account, settings, executes=no_pause_runs)
    assert ("pause", "L") in {(p.kind, p.entity_id) for p in proposals}  # still proposed, for a person
    paced = [p for p in proposals if p.kind == "set_budget"]
    assert paced and all("pacing" in p.policy for p in paced)
    report = pacing_outlook(account, settings, executes=no_pause_runs)
    assert report is not None and report.projected_month_end_spend == Decimal("9000.00")
    for proposal in paced:
        pacing = proposal.evidence.get("pacing", proposal.evidence)
        assert pacing["projected_month_end_spend"] == "9000.00" == str(report.projected_month_end_spend)
    # on auto, both count on the pause and agree on the lower projection
    on_auto = pacing_outlook(account, settings)
    assert on_auto is not None and on_auto.projected_month_end_spend < report.projected_month_end_spend
    paced_on_auto = [p for p in evaluate(account, settings) if p.kind == "set_budget" and "pacing" in p.policy]
    assert {p.evidence.get("pacing", p.evidence)["projected_month_end_spend"] for p in paced_on_auto} == {
        str(on_auto.projected_month_end_spend)}
