"""Value sources: the series an ad set is judged on, per objective, and the verdicts that follow."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from policies import evaluate
from policies.base import OutcomeFact
from policies.conversion_lag import lag_curve
from policies.settings import ObjectiveSettings, PolicySettings
from policies.stage_lag import stage_lag_curve
from policies.value_source import crm_events, crm_series, judged_snapshot
from tests.unit.policies.builders import TODAY, entity, rows, snapshot

ONLY_JUDGING = ("underperformers", "reallocation")


def _pauses(proposals: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(p.entity_id for p in proposals if p.kind == "pause")


def _lead_gen_account() -> list:  # type: ignore[type-arg]
    """LinkedIn lead gen: 30 days of leads on every ad set, and never any conversion value."""
    entities = [entity(f"li{n}", platform="linkedin", budget="150", created="2024-01-01") for n in range(3)]
    data = [row for n in range(3) for row in rows(f"li{n}", 30, spend=150, conversions=2 + n, value=0)]
    return [entities, data]


def test_a_lead_gen_ad_set_with_conversions_but_no_reported_value_is_never_paused_for_roas() -> None:
    entities, data = _lead_gen_account()
    proposals = evaluate(snapshot(entities, data), PolicySettings(), only=ONLY_JUDGING)
    assert _pauses(proposals) == []


def test_one_ad_set_without_value_in_an_account_with_value_is_not_judged_on_roas() -> None:
    entities = [entity("shop", budget="100", created="2024-01-01"), entity("form", budget="100", created="2024-01-01")]
    data = rows("shop", 30, spend=100, conversions=4, value=400) + rows("form", 30, spend=100, conversions=6, value=0)
    judged, view = judged_snapshot(snapshot(entities, data), None, 2.0)
    assert view.unjudged == frozenset({"form"})
    assert "form" in judged.protected_entities
    assert _pauses(evaluate(snapshot(entities, data), PolicySettings(), only=ONLY_JUDGING)) == []


def test_platform_cpa_judges_lead_gen_on_cost_per_lead() -> None:
    # 150 a day for 0.5 leads (CPL 300) against a target CPL of 100: paused; 3 leads a day (CPL 50): kept.
    entities = [entity("dear", budget="150", created="2024-01-01"), entity("cheap", budget="150", created="2024-01-01")]
    data = rows("dear", 30, spend=150, conversions=lambda d: d.day % 2, value=0) + rows(
        "cheap", 30, spend=150, conversions=3, value=0)
    settings = PolicySettings(objective=ObjectiveSettings(kind="platform_cpa", target=100))
    proposals = evaluate(snapshot(entities, data), settings, only=("underperformers",))
    assert _pauses(proposals) == ["dear"]
    (pause,) = proposals
    assert pause.rationale.startswith("Objective platform_cpa (cost per platform conversion at most 100 USD)")
    assert pause.evidence["objective"]["kind"] == "platform_cpa"


def _fact(record: str, ad_set: str, stage: str, click: date, delay: int, amount: str | None = None) -> OutcomeFact:
    return OutcomeFact(record, ad_set, stage, click, click + timedelta(days=delay),
                       Decimal(amount) if amount else None)


def test_pipeline_events_are_one_per_record_by_click_day_and_only_once_known() -> None:
    click = date(2024, 6, 1)
    facts = [
        _fact("r1", "a", "lead", click, 0), _fact("r1", "a", "sql", click, 5),
        _fact("r1", "a", "opportunity", click, 10, "9000"), _fact("r1", "a", "won", click, 30, "9000"),
        _fact("r2", "a", "lead", click, 0), _fact("r2", "a", "won", click, 12, "4000"),  # skipped opportunity
        _fact("r3", "b", "opportunity", click, 25, "7000"),  # not yet reached on TODAY (June 20)
        _fact("r4", "b", "sql", click + timedelta(days=1), 3),
    ]
    series = crm_series(crm_events(facts, "pipeline_roas", "sql", TODAY))
    assert series == {("a", click): (2.0, Decimal("13000"))}
    qualified = crm_series(crm_events(facts, "cpql", "sql", TODAY))
    assert qualified == {("a", click): (2.0, Decimal(0)), ("b", click + timedelta(days=1)): (1.0, Decimal(0))}
    assert crm_series(crm_events(facts, "cpql", "opportunity", TODAY)) == {("a", click): (2.0, Decimal(0))}


def test_stage_lag_is_estimated_from_the_accounts_own_stage_timestamps() -> None:
    # Every opportunity arrives exactly 10 days after its click: nothing is known before age 10.
    pairs = [(TODAY - timedelta(days=offset), TODAY - timedelta(days=offset - 10))
             for offset in range(11, 60) for _ in range(3)]
    curve = stage_lag_curve(pairs, TODAY)
    assert curve.at(5) == pytest.approx(0.0)
    assert curve.at(9) == pytest.approx(0.0)
    assert curve.at(10) == pytest.approx(1.0)
    assert curve.estimated_ages >= 18  # ages 10..27; before age 10 nothing has arrived yet
    assert "CRM stage timestamps" in curve.source


def test_a_pipeline_account_pauses_cheap_unqualified_leads_and_keeps_fewer_qualified_ones() -> None:
    # "cheap": 300 a day for 6 leads, a 300 opportunity every other day (pipeline ROAS 0.5).
    # "good": 100 a day for 1 lead, a 2000 opportunity every other day (pipeline ROAS 10).
    entities = [entity(name, platform="linkedin", budget="100", created="2024-01-01") for name in ("cheap", "good")]
    data = rows("cheap", 60, spend=300, conversions=6, value=0) + rows("good", 60, spend=100, conversions=1, value=0)
    facts = []
    for offset in range(2, 61):
        click = TODAY - timedelta(days=offset)
        if offset % 2 == 0:
            facts.append(_fact(f"c{offset}", "cheap", "opportunity", click, 8, "300"))
            facts.append(_fact(f"g{offset}", "good", "opportunity", click, 8, "2000"))
    account = snapshot(entities, data, outcomes=facts)
    # On platform ROAS (no value reported) nothing is judged; on pipeline the cheap leads go.
    assert _pauses(evaluate(account, PolicySettings(), only=ONLY_JUDGING)) == []
    settings = PolicySettings(objective=ObjectiveSettings(kind="pipeline_roas", target=4))
    proposals = evaluate(account, settings, only=ONLY_JUDGING)
    assert _pauses(proposals) == ["cheap"]
    pause = next(p for p in proposals if p.kind == "pause")
    assert pause.rationale.startswith("Objective pipeline_roas (pipeline ROAS at least 4)")
    assert "attributed CRM pipeline" in pause.rationale
    assert pause.evidence["objective"]["target_roas"] == 4


def test_a_crm_objective_without_any_outcome_judges_nothing() -> None:
    entities, data = _lead_gen_account()
    account = snapshot(entities, data)
    judged, view = judged_snapshot(account, ObjectiveSettings(kind="cpql", target=400), 2.0)
    assert view.unjudged == frozenset({"li0", "li1", "li2"})
    assert "none yet" in view.data
    settings = PolicySettings(objective=ObjectiveSettings(kind="cpql", target=400))
    assert _pauses(evaluate(account, settings, only=ONLY_JUDGING)) == []


def test_the_judged_snapshot_carries_the_objectives_lag_curve() -> None:
    entities = [entity("a", budget="100")]
    click = TODAY - timedelta(days=20)
    facts = [_fact(f"r{n}", "a", "sql", click, 4) for n in range(3)]
    judged, _view = judged_snapshot(snapshot(entities, rows("a", 30, spend=100), outcomes=facts),
                                    ObjectiveSettings(kind="cpql", target=300), 2.0)
    assert "CRM stage timestamps" in lag_curve(judged).source
    (day_row,) = [r for r in judged.daily["a"] if r.day == click]
    assert (day_row.conversions, day_row.conversion_value) == (3.0, Decimal("900"))


def test_stage_lag_is_not_biased_by_young_click_days_whose_stages_are_still_to_come() -> None:
    # Delays 5..14 days, equally likely, on every click day of the last 60: the young days show only
    # their early stages, which a naive share of "stages seen by age k" would overweight.
    pairs = [(TODAY - timedelta(days=offset), TODAY - timedelta(days=offset) + timedelta(days=delay))
             for offset in range(1, 61) for delay in range(5, 15) for _ in range(2)]
    curve = stage_lag_curve(pairs, TODAY)
    assert curve.at(4) == pytest.approx(0.0)
    assert curve.at(7) == pytest.approx(0.3, abs=0.01)
    assert curve.at(10) == pytest.approx(0.6, abs=0.01)
    assert curve.at(14) == pytest.approx(1.0)
