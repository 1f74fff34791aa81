"""Budget reallocation: hand-worked moves, campaign-level holders, caps, and conservation (property)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.reallocation import propose_reallocations
from policies.settings import ReallocationSettings
from tests.unit.policies.builders import NO_LAG, TODAY, entity, rows, snapshot


def _budgets(proposals) -> dict[str, tuple[Decimal, Decimal]]:
    return {p.entity_id: (Decimal(p.change["from"]["daily_budget"]), Decimal(p.change["to"]["daily_budget"]))
            for p in proposals}


def test_money_moves_from_the_low_to_the_high_marginal_return_within_the_per_change_cap() -> None:
    # A returns 4x and spends all of its 100 budget; B returns 1x. Caps: 20% of 100, less the
    # 0.5-point learning margin = 19.50 each, 10% of the 200 total per day = 20: so 19.50 moves.
    entities = [entity("A", budget="100"), entity("B", budget="100")]
    data = rows("A", 14, spend=100, conversions=4, value=400) + rows("B", 14, spend=100, conversions=1, value=100)
    proposals = propose_reallocations(snapshot(entities, data), ReallocationSettings(), curve=NO_LAG)
    assert _budgets(proposals) == {"A": (Decimal(100), Decimal("119.50")), "B": (Decimal(100), Decimal("80.50"))}
    raise_a = next(p for p in proposals if p.entity_id == "A")
    assert raise_a.kind == "set_budget"
    assert raise_a.change == {"from": {"daily_budget": "100.00"}, "to": {"daily_budget": "119.50"}}
    assert raise_a.evidence["elasticity"] == 0.7  # constant spend: the prior elasticity stands
    assert "marginal ROAS" in raise_a.rationale


def test_nothing_moves_when_returns_are_similar_or_the_winner_cannot_spend_more() -> None:
    similar = [entity("A", budget="100"), entity("B", budget="100")]
    data = rows("A", 14, spend=100, conversions=4, value=400) + rows("B", 14, spend=100, conversions=4, value=380)
    assert propose_reallocations(snapshot(similar, data), ReallocationSettings(), curve=NO_LAG) == []
    # A is the better ad set but only spends 60 of its 100: more budget would not be spent.
    data = rows("A", 14, spend=60, conversions=3, value=240) + rows("B", 14, spend=100, conversions=1, value=100)
    assert propose_reallocations(snapshot(similar, data), ReallocationSettings(), curve=NO_LAG) == []


def test_unused_budget_is_given_away_first_even_by_a_good_performer() -> None:
    # C returns 3x but spends only 100 of its 200: its unused budget is worth nothing.
    entities = [entity("A", budget="100"), entity("C", budget="200")]
    data = rows("A", 14, spend=100, conversions=4, value=400) + rows("C", 14, spend=100, conversions=3, value=300)
    budgets = _budgets(propose_reallocations(snapshot(entities, data), ReallocationSettings(), curve=NO_LAG))
    assert budgets == {"A": (Decimal(100), Decimal("119.50")), "C": (Decimal(200), Decimal("180.50"))}


def test_google_campaign_budgets_are_reallocated_on_their_ad_groups_aggregated_metrics() -> None:
    entities = [
        entity("g1", level="campaign", parent=None, budget="200", platform="google_ads"),
        entity("g2", level="campaign", parent=None, budget="200", platform="google_ads"),
        entity("a1", parent="g1"), entity("a2", parent="g1"), entity("b1", parent="g2"),
    ]
    data = (rows("a1", 14, spend=100, conversions=4, value=400) + rows("a2", 14, spend=100, conversions=4, value=400)
            + rows("b1", 14, spend=200, conversions=2, value=200))
    budgets = _budgets(propose_reallocations(snapshot(entities, data), ReallocationSettings(), curve=NO_LAG))
    assert budgets == {"g1": (Decimal(200), Decimal(239)), "g2": (Decimal(200), Decimal(161))}  # 19.5% of 200


def test_recently_changed_entities_are_left_alone() -> None:
    entities = [entity("A", budget="100"), entity("B", budget="100")]
    data = rows("A", 14, spend=100, conversions=4, value=400) + rows("B", 14, spend=100, conversions=1, value=100)
    twice = {"A": [TODAY - timedelta(days=6), TODAY - timedelta(days=5)]}
    assert propose_reallocations(snapshot(entities, data, recent_changes=twice), ReallocationSettings(),
                                 curve=NO_LAG) == []


def test_protected_holders_and_the_floor_are_respected() -> None:
    entities = [entity("A", budget="100"), entity("B", budget="100")]
    data = rows("A", 14, spend=100, conversions=4, value=400) + rows("B", 14, spend=100, conversions=1, value=100)
    protected = snapshot(entities, data, protected_entities=frozenset({"B"}))
    assert propose_reallocations(protected, ReallocationSettings(), curve=NO_LAG) == []
    floored = ReallocationSettings(min_daily_budget=Decimal("95"))
    assert _budgets(propose_reallocations(snapshot(entities, data), floored, curve=NO_LAG)) == {
        "A": (Decimal(100), Decimal(105)), "B": (Decimal(100), Decimal(95))}


def test_total_may_grow_only_when_configured() -> None:
    entities = [entity("A", budget="100")]
    data = rows("A", 14, spend=100, conversions=5, value=500)
    assert propose_reallocations(snapshot(entities, data), ReallocationSettings(), curve=NO_LAG) == []
    growth = ReallocationSettings(allow_total_increase=True, max_total_increase_pct=0.1)
    assert _budgets(propose_reallocations(snapshot(entities, data), growth, curve=NO_LAG)) == {
        "A": (Decimal(100), Decimal(110))}


holder = st.tuples(
    st.integers(min_value=5, max_value=500),  # budget
    st.floats(min_value=0.3, max_value=1.1),  # utilisation
    st.floats(min_value=0.0, max_value=6.0),  # ROAS
)


@settings(max_examples=60, deadline=None)
@given(
    holders=st.lists(holder, min_size=2, max_size=6),
    max_change_pct=st.floats(min_value=0.05, max_value=1.0),
    shift_pct=st.floats(min_value=0.01, max_value=1.0),
    floor=st.integers(min_value=0, max_value=100),
    ceiling=st.one_of(st.none(), st.integers(min_value=50, max_value=600)),
    currency=st.sampled_from(["USD", "JPY"]),
)
def test_reallocation_conserves_the_total_and_never_breaks_a_cap_floor_or_ceiling(
    holders, max_change_pct, shift_pct, floor, ceiling, currency
) -> None:
    entities = []
    data = []
    for index, (budget, utilisation, roas) in enumerate(holders):
        entity_id = f"h{index}"
        spend = round(budget * utilisation, 2)
        entities.append(entity(entity_id, budget=str(budget), currency=currency))
        data += rows(entity_id, 14, spend=spend, conversions=max(roas * spend / 100, 0.0), value=roas * spend,
                     currency=currency)
    config = ReallocationSettings(
        max_change_pct=max_change_pct, max_daily_shift_pct=shift_pct, min_daily_budget=Decimal(floor),
        max_daily_budget=None if ceiling is None else Decimal(ceiling), min_spend=Decimal(0),
    )
    proposals = propose_reallocations(snapshot(entities, data, currency=currency), config, curve=NO_LAG)
    budgets = _budgets(proposals)
    assert sum(after - before for before, after in budgets.values()) == 0
    total = sum(Decimal(b) for b, _, _ in holders)
    assert sum(max(after - before, Decimal(0)) for before, after in budgets.values()) <= total * Decimal(str(shift_pct))
    for before, after in budgets.values():
        assert abs(after - before) <= before * Decimal(str(max_change_pct))
        if after < before:
            assert after >= floor
        else:
            assert ceiling is None or after <= ceiling
        assert after == after.quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))


def test_the_moves_are_the_legs_of_one_plan_whose_total_is_the_accounts() -> None:
    entities = [entity("A", budget="100"), entity("B", budget="100"), entity("C", budget="100")]
    data = (rows("A", 14, spend=100, conversions=4, value=400) + rows("B", 14, spend=100, conversions=1, value=100)
            + rows("C", 14, spend=100, conversions=1, value=90))
    proposals = propose_reallocations(snapshot(entities, data), ReallocationSettings(), curve=NO_LAG)
    assert len(proposals) >= 2
    plans = [p.evidence["plan"] for p in proposals]
    assert all(plan == plans[0] for plan in plans)
    assert plans[0]["legs"] == sorted(p.entity_id for p in proposals)
    assert plans[0]["total"] == plans[0]["total_before"] == str(sum(Decimal(p.change["from"]["daily_budget"])
                                                                    for p in proposals))
    assert sum(Decimal(p.change["to"]["daily_budget"]) for p in proposals) == Decimal(plans[0]["total"])
