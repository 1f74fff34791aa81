"""Budget plans: legs in minor units that add up to the plan's total exactly, USD and JPY."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from policies.budget_plan import Leg, plan_evidence, plan_id, plan_total, round_legs

D = Decimal


def leg(entity_id: str, before: str, after: str, lowest: str | None = None, highest: str | None = None) -> Leg:
    b, a = D(before), D(after)
    return Leg(entity_id, b, a, D(lowest) if lowest else min(a, b) - 1000, D(highest) if highest else max(a, b) + 1000)


@pytest.mark.parametrize(("currency", "legs", "total"), [
    # budgets read off a platform in micros need not sit on the cent (or yen) grid
    ("USD", [leg("A", "10.005", "15.005"), leg("B", "20.0025", "17.5025"), leg("C", "30.0025", "27.5025")],
     D("60.01")),
    ("JPY", [leg("A", "1000.5", "1500.5"), leg("B", "2000.25", "1750.25"), leg("C", "3000.25", "2750.25")],
     D("6001")),
])
def test_legs_add_up_to_the_plan_total_in_minor_units(currency: str, legs: list[Leg], total: Decimal) -> None:
    afters = round_legs(legs, currency)
    assert afters is not None
    assert plan_total(legs, currency) == total
    assert sum(afters.values()) == total
    unit = D("0.01") if currency == "USD" else D(1)
    assert all(after == after.quantize(unit) for after in afters.values())
    # each leg moves at most a minor unit away from its exact amount, and no further than planned
    # plus the residual: the raise is never rounded up, the cuts only one of them by the residual
    assert afters["A"] == (D("15.00") if currency == "USD" else D(1500))
    moved_residual = [e for e in ("B", "C") if afters[e] != next(x for x in legs if x.entity_id == e).exact_after
                      .quantize(unit, rounding="ROUND_CEILING")]
    assert len(moved_residual) == 1


def test_the_residual_goes_to_a_leg_with_room_under_its_caps() -> None:
    # B and C are cut to their floors already: only A (a raise) can take the cent back
    legs = [leg("A", "10.005", "15.005", highest="15.01"), leg("B", "20.0025", "17.5025", lowest="17.51"),
            leg("C", "30.0025", "27.5025", lowest="27.51")]
    afters = round_legs(legs, "USD")
    assert afters == {"A": D("14.99"), "B": D("17.51"), "C": D("27.51")}
    assert sum(afters.values()) == D("60.01")


def test_no_plan_when_no_leg_can_take_the_residual() -> None:
    legs = [leg("A", "10.005", "15.005", lowest="15.00", highest="15.00"),
            leg("B", "20.0025", "17.5025", lowest="17.51", highest="17.51"),
            leg("C", "30.0025", "27.5025", lowest="27.51", highest="27.51")]
    assert round_legs(legs, "USD") is None


def test_on_the_grid_nothing_moves_and_the_plan_id_is_stable() -> None:
    legs = [leg("A", "100", "120"), leg("B", "100", "80")]
    afters = round_legs(legs, "EUR")
    assert afters == {"A": D(120), "B": D(80)}
    day = date(2026, 11, 23)
    evidence = plan_evidence("acct", day, "EUR", legs, afters)
    assert evidence == {"id": plan_id("acct", day, {"A": (D(100), D(120)), "B": (D(100), D(80))}),
                        "legs": ["A", "B"], "total_before": "200.00", "total": "200.00", "currency": "EUR"}
    assert evidence["id"] != plan_id("acct", date(2026, 11, 24), {"A": (D(100), D(120)), "B": (D(100), D(80))})
