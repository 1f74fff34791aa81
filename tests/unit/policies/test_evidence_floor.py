"""Budget cuts stop where the pause test could still prove a loser; only a pause goes lower."""

from __future__ import annotations

from decimal import Decimal

from policies import evaluate
from policies.evidence_floor import evidence_floor
from policies.pacing import propose_pacing_with_report
from policies.reallocation import propose_reallocations
from policies.settings import PacingSettings, PolicySettings, ReallocationSettings, UnderperformersSettings
from tests.unit.policies.builders import NO_LAG, entity, rows, snapshot


def _budgets(proposals) -> dict[str, tuple[Decimal, Decimal]]:
    return {p.entity_id: (Decimal(p.change["from"]["daily_budget"]), Decimal(p.change["to"]["daily_budget"]))
            for p in proposals if p.kind == "set_budget"}


def test_the_floor_is_the_spend_that_gives_a_half_target_loser_enough_conversions() -> None:
    # 100 of value per conversion; a loser at ROAS 1 (half of 2) pays 100 a conversion: 20 of them
    # in 28 days cost 2000, 71.42 a day.
    account = snapshot([entity("A", budget="500")], rows("A", 28, spend=500, conversions=10, value=1000))
    assert evidence_floor(account, 2.0, 20, 28) == Decimal("71.42")
    assert evidence_floor(account, 2.0, 0, 28) == 0
    no_conversions = snapshot([entity("A", budget="500")], rows("A", 28, spend=500, conversions=0, value=0))
    assert evidence_floor(no_conversions, 2.0, 20, 28) == 0


def test_reallocation_cuts_a_donor_no_lower_than_the_floor() -> None:
    entities = [entity("A", budget="100"), entity("B", budget="100")]
    data = rows("A", 14, spend=100, conversions=4, value=400) + rows("B", 14, spend=100, conversions=1, value=100)
    cut = propose_reallocations(snapshot(entities, data), ReallocationSettings(), curve=NO_LAG,
                                evidence_floor=Decimal("90"))
    assert _budgets(cut) == {"A": (Decimal(100), Decimal(110)), "B": (Decimal(100), Decimal(90))}
    assert propose_reallocations(snapshot(entities, data), ReallocationSettings(), curve=NO_LAG,
                                 evidence_floor=Decimal("100")) == []


def test_pacing_cuts_no_lower_than_the_floor_but_may_still_raise_a_small_budget() -> None:
    overspend = snapshot([entity("A", budget="100")], rows("A", 60, spend=100), monthly_budget=Decimal("2200"))
    (cut,), _ = propose_pacing_with_report(overspend, PacingSettings(), Decimal("95"))
    assert cut.change["to"] == {"daily_budget": "95.00"}
    assert propose_pacing_with_report(overspend, PacingSettings(), Decimal("150"))[0] == []
    underspend = snapshot([entity("A", budget="100")], rows("A", 60, spend=100), monthly_budget=Decimal("4000"))
    (raised,), _ = propose_pacing_with_report(underspend, PacingSettings(), Decimal("150"))
    assert raised.change["to"] == {"daily_budget": "119.50"}


def test_evaluate_derives_the_floor_from_the_target_and_passes_it_to_the_budget_policies() -> None:
    # Value per conversion 100, target 2: 20 conversions of a half-target loser in 28 days = 71.42 a day.
    entities = [entity("A", budget="70"), entity("B", budget="70")]
    data = rows("A", 28, spend=70, conversions=2.8, value=280) + rows("B", 28, spend=70, conversions=1.4, value=140)
    settings = PolicySettings(underperformers=UnderperformersSettings(enabled=False),
                              pacing=PacingSettings(enabled=False))
    assert [p for p in evaluate(snapshot(entities, data), settings) if p.kind == "set_budget"] == []
    no_floor = settings.model_copy(update={"underperformers": UnderperformersSettings(
        enabled=False, evidence_floor_conversions=0)})
    assert _budgets(evaluate(snapshot(entities, data), no_floor))["B"][1] < Decimal(70)
