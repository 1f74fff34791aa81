"""Pacing that respects diminishing returns, and one projection for the pacing policy and its report."""

from __future__ import annotations

from decimal import Decimal

import pytest

from policies import evaluate, pacing_outlook
from policies.base import Snapshot
from policies.marginal_returns import ResponseCurve
from policies.settings import PolicySettings
from tests.unit.policies.builders import entity, revisions_for_curve, rows, snapshot

COMPLETE = revisions_for_curve([1.0] * 29)


def test_the_worthwhile_factor_is_where_the_marginal_roas_meets_the_target() -> None:
    curve = ResponseCurve(average_roas=3.0, elasticity=0.7)
    assert curve.marginal_roas() == pytest.approx(2.1)  # b x R
    k = curve.worthwhile_factor(2.0)
    assert k == pytest.approx((2.1 / 2.0) ** (1 / 0.3))
    assert curve.marginal_roas(k) == pytest.approx(2.0)
    # the next unit already returns less than the target: no raise at all
    assert ResponseCurve(average_roas=2.5, elasticity=0.7).worthwhile_factor(2.0) == 1.0
    # nearly constant returns well above target: no limit from returns (and no overflow)
    assert ResponseCurve(average_roas=30.0, elasticity=0.9999).worthwhile_factor(2.0) == 100.0


def _under_spending(b_value: float) -> Snapshot:
    """June 20th, two budget-limited ad sets at 100 a day, a 9,000 month: 6,000 projected."""
    entities = [entity("A", budget="100"), entity("B", budget="100")]
    data = rows("A", 60, spend=100, conversions=4, value=400) + rows("B", 60, spend=100, conversions=2.5,
                                                                    value=b_value)
    return snapshot(entities, data, monthly_budget=Decimal("9000"), conversion_revisions=COMPLETE)


def test_pacing_raises_only_where_the_marginal_roas_clears_the_target_and_says_why_it_underspends() -> None:
    # A: ROAS 4, marginal 0.7 x 4 = 2.8 >= 2: raised (by at most 19.5% a day). B: ROAS 2.5, marginal
    # 1.75 < 2: more budget would lose money at the margin, so it is not raised to fill the month.
    account = _under_spending(250)
    budgets = {p.entity_id: p for p in evaluate(account, PolicySettings(), only={"pacing"})}
    assert set(budgets) == {"A"}
    assert budgets["A"].change["to"]["daily_budget"] == "119.50"
    report = pacing_outlook(account, PolicySettings())
    assert report is not None and report.status == "under"
    assert report.underspend_reason == "marginal return below target" and report.held_back > 0
    assert "left unspent by choice: marginal return below target" in budgets["A"].rationale
    assert budgets["A"].evidence["underspend_reason"] == "marginal return below target"


def test_when_every_holder_pays_at_the_margin_nothing_is_held_back() -> None:
    account = _under_spending(400)  # B as good as A
    budgets = {p.entity_id for p in evaluate(account, PolicySettings(), only={"pacing"})}
    assert budgets == {"A", "B"}
    report = pacing_outlook(account, PolicySettings())
    assert report is not None and report.held_back == 0 and report.underspend_reason is None
