"""The remedy ladder: a scaled-up ad set is cut back toward its last profitable budget before any pause."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from connectors.records import MetricRow
from policies import evaluate
from policies.base import BudgetMove, Proposal, Snapshot
from policies.remedy_ladder import BudgetLevel, budget_levels
from policies.settings import PolicySettings
from tests.unit.policies.builders import TODAY, entity, revisions_for_curve, rows, snapshot

COMPLETE = [1.0] * 29  # every day fully reported: the verdicts rest on the rows as given
LAUNCHED = (TODAY - timedelta(days=60)).isoformat()
DECIDERS = {"underperformers", "reallocation", "pacing"}


def _roas_by_level(budget_on: dict[date, float], roas_on: dict[date, float]) -> list[MetricRow]:
    """Rows of ad set "cand" over 28 days: it spends its budget, at the ROAS of the level; value 100
    per conversion."""
    def spend(day: date) -> float:
        return next(b for start, b in sorted(budget_on.items(), reverse=True) if day >= start)

    def value(day: date) -> float:
        roas = next(r for start, r in sorted(roas_on.items(), reverse=True) if day >= start)
        return spend(day) * roas

    return rows("cand", 28, spend=spend, conversions=lambda d: value(d) / 100, value=value)


def _account(current_budget: str, moves: list[BudgetMove], budget_on: dict[date, float],
             roas_on: dict[date, float], **entity_kwargs: object) -> Snapshot:
    entities = [entity("good", budget="300", created=LAUNCHED),
                entity("cand", budget=current_budget, created=LAUNCHED, **entity_kwargs)]  # type: ignore[arg-type]
    data = rows("good", 28, spend=300, conversions=9, value=900) + _roas_by_level(budget_on, roas_on)
    return snapshot(entities, data, conversion_revisions=revisions_for_curve(COMPLETE),
                    recent_budget_moves={"cand": moves})


START = TODAY - timedelta(days=28)
SCALED_ON = TODAY - timedelta(days=14)
SCALE_UP = [BudgetMove(SCALED_ON, Decimal("100"), Decimal("300"))]


def _for(proposals: list[Proposal], entity_id: str = "cand") -> list[Proposal]:
    return [p for p in proposals if p.entity_id == entity_id]


def test_a_scaled_up_ad_set_that_paid_at_its_earlier_budget_is_cut_back_not_paused() -> None:
    # 100 a day at ROAS 3 for two weeks, then 300 a day at ROAS 0.5: a loser over the window
    # (ROAS 1.1 on 63 conversions), but only because of the scale-up.
    account = _account("300", SCALE_UP, {START: 100, SCALED_ON: 300}, {START: 3.0, SCALED_ON: 0.5})
    # the pause test and both budget policies on: one decision for it
    (proposal,) = _for(evaluate(account, PolicySettings(), only=DECIDERS))
    assert proposal.kind == "set_budget" and proposal.policy == "underperformers"
    # toward 100, at most 19.5% (the 20% learning threshold minus the margin) per change
    assert proposal.change == {"from": {"daily_budget": "300.00"}, "to": {"daily_budget": "241.50"}}
    assert "rung 1 of 2 (cut back toward the last profitable budget)" in proposal.rationale
    assert "scaled up from 100.00 to 300.00" in proposal.rationale
    ladder = proposal.evidence["remedy_ladder"]
    assert ladder["last_profitable_budget"] == "100.00" and ladder["p_roas_below_target_at_that_budget"] < 0.5


def test_an_ad_set_never_scaled_up_is_paused_on_rung_two() -> None:
    account = _account("300", [], {START: 300}, {START: 0.8})
    (proposal,) = _for(evaluate(account, PolicySettings(), only={"underperformers"}))
    assert proposal.kind == "pause"
    assert "rung 2 of 2 (pause): it was not scaled up within the window" in proposal.rationale


def test_an_ad_set_that_lost_at_its_earlier_budget_too_is_paused() -> None:
    account = _account("300", SCALE_UP, {START: 100, SCALED_ON: 300}, {START: 0.6, SCALED_ON: 0.6})
    (proposal,) = _for(evaluate(account, PolicySettings(), only={"underperformers"}))
    assert proposal.kind == "pause"
    assert "loser at its earlier budget too (100.00 a day" in proposal.rationale
    assert proposal.evidence["remedy_ladder"]["rung"] == "pause"


def test_a_small_raise_is_not_a_scale_up_and_the_loser_is_paused() -> None:
    # 250 -> 300 is +20%, under the 30% that makes a scale-up: the loss is not the raise's
    moves = [BudgetMove(SCALED_ON, Decimal("250"), Decimal("300"))]
    account = _account("300", moves, {START: 250, SCALED_ON: 300}, {START: 0.6, SCALED_ON: 0.6})
    (proposal,) = _for(evaluate(account, PolicySettings(), only={"underperformers"}))
    assert proposal.kind == "pause" and "not scaled up" in proposal.rationale


def test_back_at_a_budget_it_paid_at_the_ad_set_is_held_and_no_budget_policy_moves_it() -> None:
    back_on = TODAY - timedelta(days=3)
    moves = [*SCALE_UP, BudgetMove(back_on, Decimal("300"), Decimal("100"))]
    account = _account("100", moves, {START: 100, SCALED_ON: 300, back_on: 100},
                       {START: 3.0, SCALED_ON: 0.3, back_on: 3.0})
    # (the pause test's bar held at the settled one: 40 days watched would otherwise raise it out of reach)
    settled = {"underperformers": {"settled_tightening": 0}}
    assert _for(evaluate(account, PolicySettings.model_validate(settled), only=DECIDERS)) == []
    # without the ladder, the window's days at 300 would have it paused
    off = PolicySettings.model_validate({**settled, "remedy_ladder": {"enabled": False}})
    assert [p.kind for p in _for(evaluate(account, off, only=DECIDERS))] == ["pause"]


def test_the_ladder_can_be_switched_off() -> None:
    account = _account("300", SCALE_UP, {START: 100, SCALED_ON: 300}, {START: 3.0, SCALED_ON: 0.5})
    settings = PolicySettings.model_validate({"remedy_ladder": {"enabled": False}})
    (proposal,) = _for(evaluate(account, settings, only={"underperformers"}))
    assert proposal.kind == "pause" and "Remedy ladder" not in proposal.rationale


def test_an_ad_set_without_its_own_budget_is_paused() -> None:
    # Google ad groups: the campaign holds the budget, the ad group has none of its own to cut
    account = _account("300", SCALE_UP, {START: 100, SCALED_ON: 300}, {START: 3.0, SCALED_ON: 0.5})
    entities = {**account.entities, "cand": entity("cand", created=LAUNCHED)}
    (proposal,) = _for(evaluate(account.replaced(entities=entities), PolicySettings(), only={"underperformers"}))
    assert proposal.kind == "pause" and "holds no budget of its own" in proposal.rationale


def test_budget_levels_follow_the_moves_within_the_window() -> None:
    start, end = date(2024, 6, 1), date(2024, 6, 28)
    moves = [BudgetMove(date(2024, 5, 20), Decimal(50), Decimal(80)),  # before the window
             BudgetMove(date(2024, 6, 10), Decimal(80), Decimal(100)),
             BudgetMove(date(2024, 6, 20), Decimal(100), Decimal(120))]
    assert budget_levels(moves, Decimal(120), start, end) == [
        BudgetLevel(Decimal(80), start, date(2024, 6, 9)),
        BudgetLevel(Decimal(100), date(2024, 6, 10), date(2024, 6, 19)),
        BudgetLevel(Decimal(120), date(2024, 6, 20), end)]
    assert budget_levels([], Decimal(70), start, end) == [BudgetLevel(Decimal(70), start, end)]
