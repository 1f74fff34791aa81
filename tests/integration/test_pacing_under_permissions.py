"""Plans under the permission matrix, through the daemon's cycle: with pauses on `observe`, the
pacing policy counts on no pause, and its proposal and the pacing report show one projection."""

from __future__ import annotations

from sqlalchemy import Engine

from agent.cycle.run import run_cycle
from agent.reports.pacing import pacing_reports
from agent.storage.action_states import list_actions
from tests.integration.conftest import make_world

ACCOUNT = {"id": "shop-meta", "platform": "simulator", "simulate": "meta", "currency": "EUR",
           "timezone": "Europe/Berlin", "monthly_budget": "1000"}


def test_with_pauses_on_observe_the_pacing_proposal_and_the_pacing_report_agree(
        engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, accounts=[ACCOUNT],
                       defaults={"permissions": {"pause": "observe", "set_budget": "propose"}})
    run_cycle(engine, world.config, world.connectors, world.clock)
    with engine.connect() as connection:
        actions = list_actions(connection)
    pauses = [a for a in actions if a["kind"] == "pause" and a["policy"] == "underperformers"]
    assert pauses and {a["state"] for a in pauses} == {"reported"}  # report-only, never run
    paced = [a for a in actions if a["kind"] == "set_budget" and "pacing" in a["policy"]]
    assert paced, "a month this far over budget is paced"
    (report,) = pacing_reports(engine, world.config, world.clock)
    for action in paced:
        evidence = action["evidence"].get("pacing", action["evidence"])
        assert evidence["projected_month_end_spend"] == str(report.projected_month_end_spend)
    assert not any(a["entity_id"] in {p["entity_id"] for p in pauses} for a in paced)  # held as they are
