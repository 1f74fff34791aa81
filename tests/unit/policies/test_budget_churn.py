"""Hysteresis: no immaterial budget moves, no quick reversals, at most K moves a week."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from policies.base import BudgetMove
from policies.pacing import propose_pacing_with_report
from policies.reallocation import propose_reallocations
from policies.settings import BudgetChurnSettings, PacingSettings, ReallocationSettings
from tests.unit.policies.builders import NO_LAG, TODAY, entity, rows, snapshot


def _budgets(proposals) -> dict[str, tuple[Decimal, Decimal]]:
    return {p.entity_id: (Decimal(p.change["from"]["daily_budget"]), Decimal(p.change["to"]["daily_budget"]))
            for p in proposals}


ENTITIES = [entity("A", budget="100"), entity("B", budget="100")]
# A returns 3x, B 2x, both spend their whole budget: A's marginal ROAS beats B's by 50%.
DATA = rows("A", 14, spend=100, conversions=3, value=300) + rows("B", 14, spend=100, conversions=2, value=200)


def _moves(**moves: tuple[int, str, str]) -> dict[str, list[BudgetMove]]:
    return {entity_id: [BudgetMove(TODAY - timedelta(days=age), Decimal(before), Decimal(after))]
            for entity_id, (age, before, after) in moves.items()}


def test_a_move_below_the_materiality_threshold_is_not_proposed() -> None:
    # 2% of the 200 total may move today: 4, i.e. 4% of each budget, under the 5% threshold.
    small = ReallocationSettings(max_daily_shift_pct=0.02)
    assert propose_reallocations(snapshot(ENTITIES, DATA), small, curve=NO_LAG) == []
    assert _budgets(propose_reallocations(snapshot(ENTITIES, DATA), ReallocationSettings(max_daily_shift_pct=0.03),
                                          curve=NO_LAG)) == {"A": (100, 106), "B": (100, 94)}
    everything = BudgetChurnSettings(min_change_pct=0)
    assert _budgets(propose_reallocations(snapshot(ENTITIES, DATA), small, curve=NO_LAG, churn=everything)) == {
        "A": (100, 104), "B": (100, 96)}


def test_no_raise_soon_after_a_cut_unless_the_evidence_flips_decisively() -> None:
    cut_last_week = snapshot(ENTITIES, DATA, recent_budget_moves=_moves(A=(5, "110", "100")))
    assert propose_reallocations(cut_last_week, ReallocationSettings(), curve=NO_LAG) == []
    # 50% better at the margin is decisive if the setting says so.
    decisive = BudgetChurnSettings(decisive_improvement=0.4, max_changes_per_week=2)
    assert _budgets(propose_reallocations(cut_last_week, ReallocationSettings(), curve=NO_LAG, churn=decisive))["A"][
        1] > 100
    # A cut seven days ago is outside the week's count but still inside the reversal window: the first
    # move the once-a-week limit allows does not undo the last one.
    cut_a_week_ago = snapshot(ENTITIES, DATA, recent_budget_moves=_moves(A=(7, "110", "100")))
    assert propose_reallocations(cut_a_week_ago, ReallocationSettings(), curve=NO_LAG) == []
    # A cut eight days ago is outside the 8-day reversal window (and the week's count).
    cut_earlier = snapshot(ENTITIES, DATA, recent_budget_moves=_moves(A=(8, "110", "100")))
    assert _budgets(propose_reallocations(cut_earlier, ReallocationSettings(), curve=NO_LAG))["A"][1] > 100
    # Nor is a donor raised last week cut now.
    raised = snapshot(ENTITIES, DATA, recent_budget_moves=_moves(B=(4, "90", "100")))
    assert propose_reallocations(raised, ReallocationSettings(), curve=NO_LAG,
                                 churn=BudgetChurnSettings(max_changes_per_week=2)) == []


def test_at_most_k_budget_moves_per_week() -> None:
    # A was raised five days ago: a raise again is no reversal, but one move a week is the limit.
    raised = snapshot(ENTITIES, DATA, recent_budget_moves=_moves(A=(5, "90", "100")))
    assert propose_reallocations(raised, ReallocationSettings(), curve=NO_LAG) == []
    twice = BudgetChurnSettings(max_changes_per_week=2)
    assert _budgets(propose_reallocations(raised, ReallocationSettings(), curve=NO_LAG, churn=twice))["A"][1] > 100


def test_pacing_does_not_undo_a_recent_cut_unless_the_month_is_far_off() -> None:
    def account(monthly: str, moves: dict[str, list[BudgetMove]]):
        return snapshot([entity("A", budget="100")], rows("A", 60, spend=100), monthly_budget=Decimal(monthly),
                        recent_budget_moves=moves)

    cut = _moves(A=(3, "110", "100"))
    two_a_week = BudgetChurnSettings(max_changes_per_week=2)
    # Projected 3000 against 3300: 9% under, not decisive (15%): the recent cut stands.
    assert propose_pacing_with_report(account("3300", cut), PacingSettings(), churn=two_a_week)[0] == []
    assert propose_pacing_with_report(account("3300", {}), PacingSettings(), churn=two_a_week)[0] != []
    # 3600: 17% under, decisive.
    (raised,), _ = propose_pacing_with_report(account("3600", cut), PacingSettings(), churn=two_a_week)
    assert Decimal(raised.change["to"]["daily_budget"]) > 100
    # One move a week (the default): not even then.
    assert propose_pacing_with_report(account("3600", cut), PacingSettings())[0] == []


def test_pacing_makes_no_immaterial_move() -> None:
    # Projected 3000 against 2970: 1100 - 30 left for 11 days asks for 97.27 a day, a 2.7% cut.
    account = snapshot([entity("A", budget="100")], rows("A", 60, spend=100), monthly_budget=Decimal("2970"))
    (exact,), _ = propose_pacing_with_report(account, PacingSettings(tolerance_pct=0.005),
                                             churn=BudgetChurnSettings(min_change_pct=0))
    assert exact.change["to"]["daily_budget"] == "97.27"
    # With the 5% threshold the move is either none or material: here the nearer of 100 and 95.
    (material,), _ = propose_pacing_with_report(account, PacingSettings(tolerance_pct=0.005))
    assert material.change["to"]["daily_budget"] == "95.00"


def test_budget_a_recent_raise_left_unused_is_not_taken_back_within_the_reversal_window() -> None:
    # B spends half of its 100: its unused budget returns nothing, so any receiver beats it.
    data = rows("A", 14, spend=100, conversions=3, value=300) + rows("B", 14, spend=50, conversions=1, value=100)
    two_a_week = BudgetChurnSettings(max_changes_per_week=2)
    unraised = snapshot(ENTITIES, data)
    assert _budgets(propose_reallocations(unraised, ReallocationSettings(), curve=NO_LAG, churn=two_a_week))["B"][
        1] < 100
    # Raised four days ago: delivery has not caught up yet; taking the raise back is a reversal.
    raised = snapshot(ENTITIES, data, recent_budget_moves=_moves(B=(4, "90", "100")))
    assert propose_reallocations(raised, ReallocationSettings(), curve=NO_LAG, churn=two_a_week) == []
    # Once the reversal window has passed, the unused budget moves again.
    earlier = snapshot(ENTITIES, data, recent_budget_moves=_moves(B=(8, "90", "100")))
    assert _budgets(propose_reallocations(earlier, ReallocationSettings(), curve=NO_LAG, churn=two_a_week))["B"][
        1] < 100
