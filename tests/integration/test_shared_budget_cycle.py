"""A Google campaign on an explicitly shared budget, through one real cycle: the policies may want
to move its budget, but the gate refuses, saying why, and the shared budget never changes."""

from __future__ import annotations

from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.cycle.run import run_cycle
from agent.storage.action_states import list_actions
from tests.integration.test_real_connectors_e2e import (  # noqa: F401 (platforms is a fixture)
    TODAY,
    Platforms,
    agent_config,
    connectors_for,
    platforms,
)


def test_a_shared_google_budget_is_refused_in_words_and_never_changed(engine: Engine, database_url: str,
                                                                      platforms: Platforms) -> None:  # noqa: F811
    campaigns = sorted(e.entity_id for e in platforms.simulator.entities("sim-search") if e.level == "campaign")
    platforms.google.shared_budgets.update(campaigns)
    before = {e.entity_id: e.daily_budget for e in platforms.simulator.entities("sim-search")}
    config = agent_config(database_url)
    clock = FixedClock.at_day(TODAY, hour=12)
    summary = run_cycle(engine, config, connectors_for(config, clock, platforms), clock)

    assert summary.accounts_failed == 0, summary.errors
    with engine.connect() as connection:
        budgets = [a for a in list_actions(connection, accounts=["acme-search"]) if a["kind"] == "set_budget"]
    assert budgets, "the policies proposed no Google budget change: the check below would prove nothing"
    assert {a["state"] for a in budgets} == {"rejected"}
    assert all(f"is shared by {len(campaigns)} campaigns" in a["decision_reason"] for a in budgets)
    after = {e.entity_id: e.daily_budget for e in platforms.simulator.entities("sim-search")}
    assert after == before
    assert not [row for row in platforms.simulator.mutation_log() if row["account_id"] == "sim-search"
                and row["kind"] == "set_budget"]
