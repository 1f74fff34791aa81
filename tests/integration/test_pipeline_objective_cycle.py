"""A LinkedIn lead-gen account judged on CRM pipeline, through one real cycle: the ad set with the
most (cheap) leads, none of which became pipeline, is proposed for pause; the others, with fewer
leads that turned into opportunities, are kept."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from agent.cycle.run import run_cycle
from agent.outcomes.importing import store_records
from agent.outcomes.records import OutcomeRecord
from agent.storage.action_states import list_actions
from connectors.simulator.click_ids import SimulatedClick, encode_click_id
from tests.integration.conftest import TODAY, make_world

ACCOUNT = "b2b-leadgen"


def test_a_pipeline_account_pauses_cheap_unqualified_leads_and_keeps_qualified_ones(
        engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, accounts=[
        {"id": ACCOUNT, "platform": "simulator", "simulate": "linkedin", "currency": "USD", "timezone": "UTC",
         "objective": {"kind": "pipeline_roas", "target": 4}}])
    rows = [r for r in world.simulator.daily_metrics(ACCOUNT, TODAY - timedelta(days=30), TODAY - timedelta(days=1))
            if r.level == "ad_set"]
    leads: dict[str, float] = defaultdict(float)
    for row in rows:
        leads[row.entity_id] += row.conversions
    cheap = max(leads, key=lambda ad_set: leads[ad_set])
    parents = {e.entity_id: e.parent_id for e in world.simulator.entities(ACCOUNT)}
    records = []
    for row in rows:
        if row.spend <= 0:
            continue
        click = encode_click_id(SimulatedClick(ACCOUNT, parents[row.entity_id] or "", row.entity_id, row.day, 0))
        clicked = datetime.combine(row.day, time(10), UTC)
        crm_id = f"{row.entity_id}-{row.day}"
        records.append(OutcomeRecord(crm_id, "lead", clicked, li_fat_id=click))
        if row.entity_id != cheap:  # the others' leads become pipeline worth 10x their spend, 8 days later
            records.append(OutcomeRecord(crm_id, "opportunity", clicked + timedelta(days=8), amount=row.spend * 10,
                                         currency="USD", li_fat_id=click))
    with engine.begin() as connection:
        store_records(connection, world.config, [r for r in records if r.stage_at < world.clock.now()], "test",
                      world.clock.now())

    summary = run_cycle(engine, world.config, world.connectors, world.clock)

    assert summary.accounts_failed == 0, summary.errors
    with engine.connect() as connection:
        pauses = [a for a in list_actions(connection, accounts=[ACCOUNT]) if a["kind"] == "pause"]
    assert [p["entity_id"] for p in pauses] == [cheap]
    assert pauses[0]["rationale"].startswith("Objective pipeline_roas (pipeline ROAS at least 4), judged on "
                                             "attributed CRM pipeline")
    assert leads[cheap] > max(count for ad_set, count in leads.items() if ad_set != cheap)
    assert Decimal(0) < sum((r.spend for r in rows if r.entity_id == cheap), Decimal(0))
