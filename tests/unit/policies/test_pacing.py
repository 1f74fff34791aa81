"""Monthly pacing: hand-worked projection, weekday seasonality, and landing on budget (property)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.pacing import (
    pacing_report,
    projected_with_budgets,
    propose_pacing,
    propose_pacing_with_report,
    weekday_factors,
)
from policies.settings import BudgetChurnSettings, PacingSettings
from tests.unit.policies.builders import TODAY, entity, rows, snapshot

# TODAY is Thursday 20 June 2024: 19 days of June are complete, 11 remain (today included).


def _flat(monthly_budget: str, daily_spend: float = 100, budget: str = "100"):
    return snapshot([entity("A", budget=budget)], rows("A", 60, spend=daily_spend),
                    monthly_budget=Decimal(monthly_budget))


def test_projection_on_budget_is_reported_and_left_alone() -> None:
    report = pacing_report(_flat("3000"), PacingSettings())
    assert report is not None
    assert report.spent_to_date == Decimal("1900.00")
    assert report.projected_month_end_spend == Decimal("3000.00")
    assert (report.days_elapsed, report.days_remaining) == (19, 11)
    assert report.status == "on_track" and report.variance == 0
    assert report.required_daily_spend == Decimal("100.00")
    assert propose_pacing(_flat("3000"), PacingSettings()) == []


def test_overspend_lowers_budgets_so_the_month_lands_on_budget() -> None:
    # Budget 2800: 900 left for 11 days = 81.82 a day, a factor 0.818 within the 30% daily cap.
    (proposal,) = propose_pacing(_flat("2800"), PacingSettings())
    assert proposal.change == {"from": {"daily_budget": "100.00"}, "to": {"daily_budget": "81.82"}}
    assert "2800.00" in proposal.rationale and "3000.00" in proposal.rationale
    report = pacing_report(_flat("2800"), PacingSettings())
    assert report is not None and report.status == "over"
    assert report.recommended_daily_budget == Decimal("81.82")
    assert projected_with_budgets(_flat("2800"), PacingSettings(), {"A": Decimal("81.82")}) == pytest.approx(
        Decimal(2800), abs=Decimal("0.1"))


def test_the_daily_cap_limits_a_large_correction() -> None:
    (proposal,) = propose_pacing(_flat("2200"), PacingSettings(max_change_pct=0.3))
    assert proposal.change["to"] == {"daily_budget": "70.50"}  # 30% less the 0.5-point learning margin


def test_underspend_by_a_demand_limited_holder_is_not_fixed_by_raising_its_budget() -> None:
    # Spends 60 of a 100 budget: raising the budget cannot raise spend, so nothing is proposed.
    report = pacing_report(_flat("3000", daily_spend=60), PacingSettings())
    assert report is not None and report.status == "under"
    assert propose_pacing(_flat("3000", daily_spend=60), PacingSettings()) == []


def test_weekday_seasonality_shapes_the_projection() -> None:
    def spend(day: date) -> float:
        return 50.0 if day.weekday() >= 5 else 100.0

    seasonal = snapshot([entity("A", budget="120")], rows("A", 56, spend=spend), monthly_budget=Decimal("3000"))
    factors = weekday_factors(seasonal, 8)
    assert factors[5] < 0.7 < 1.1 < factors[0]
    report = pacing_report(seasonal, PacingSettings())
    assert report is not None
    # The 11 remaining days hold 7 weekdays and 4 weekend days: the truth is 7 x 100 + 4 x 50 = 900.
    remaining = report.projected_month_end_spend - report.spent_to_date
    assert abs(remaining - Decimal(900)) < Decimal(10)
    flat_projection = Decimal(11) * (sum(Decimal(str(spend(TODAY - timedelta(days=d)))) for d in range(1, 57)) / 56)
    assert abs(flat_projection - Decimal(900)) > Decimal(30)


def test_no_monthly_budget_means_no_report_and_no_proposal() -> None:
    plain = snapshot([entity("A", budget="100")], rows("A", 30, spend=100))
    assert pacing_report(plain, PacingSettings()) is None
    assert propose_pacing(plain, PacingSettings()) == []


@settings(max_examples=60, deadline=None)
@given(
    budgets=st.lists(st.integers(min_value=20, max_value=400), min_size=1, max_size=5),
    ratio=st.floats(min_value=0.6, max_value=1.4),
    day_of_month=st.integers(min_value=2, max_value=28),
    currency=st.sampled_from(["EUR", "JPY"]),
)
def test_recommendations_land_the_projection_on_the_monthly_budget(budgets, ratio, day_of_month, currency) -> None:
    today = date(2024, 5, day_of_month)
    entities = [entity(f"h{i}", budget=str(b), currency=currency) for i, b in enumerate(budgets)]
    data = [r for i, b in enumerate(budgets) for r in rows(f"h{i}", 60, spend=b, end=today - timedelta(days=1),
                                                             currency=currency)]
    spent = sum(budgets) * (day_of_month - 1)
    flat_projection = sum(budgets) * 31
    monthly = Decimal(spent + round((flat_projection - spent) * ratio))
    account = snapshot(entities, data, today=today, monthly_budget=monthly, currency=currency)
    config = PacingSettings(max_change_pct=0.5, tolerance_pct=0.0)
    report = pacing_report(account, config)
    assert report is not None
    every_move = BudgetChurnSettings(min_change_pct=0, min_change_amount=Decimal(0))  # no materiality threshold
    recommended = {p.entity_id: Decimal(p.change["to"]["daily_budget"])
                   for p in propose_pacing_with_report(account, config, churn=every_move)[0]}
    after = projected_with_budgets(account, config, recommended)
    before = report.projected_month_end_spend
    if 0.5 < report.budget_factor < 1.5:
        # Rounding each budget to the minor unit moves a day by at most half a unit per holder.
        unit = Decimal(1) if currency == "JPY" else Decimal("0.01")
        assert abs(after - monthly) <= unit * len(budgets) * report.days_remaining
    else:  # the daily cap binds: the projection still moves towards the budget
        assert abs(after - monthly) < abs(before - monthly)
