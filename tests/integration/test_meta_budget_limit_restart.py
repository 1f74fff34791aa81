"""Meta's 4 budget changes per ad set per hour hold across a restart: the connector's own limiter
lives in memory, but the `budget_changes_per_hour` guardrail counts the executed changes in the
database, so a fresh process refuses a fifth change in words instead of earning a code 17."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.config import parse_config
from agent.cycle.run import run_cycle
from agent.execution.executor import execute_approved
from agent.storage import store
from agent.storage.action_states import create_action, get_action, transition
from policies.base import Proposal
from tests.integration.test_real_connectors_e2e import TODAY, Platforms, connectors_for
from tests.integration.test_real_connectors_e2e import platforms as platforms  # noqa: F401  (fixture)


def test_a_fifth_budget_change_within_the_hour_is_refused_after_a_restart(engine: Engine, database_url: str,
                                                                          platforms: Platforms) -> None:
    config = parse_config({
        "database_url": database_url, "initial_history_days": 14,
        "defaults": {"permissions": {"set_budget": "auto"}, "guardrails": {"cooldown_hours": {"default": 0}}},
        "accounts": [{"id": "acme-social", "platform": "meta", "currency": "EUR", "timezone": "Europe/Berlin",
                      "credentials": {"access_token": "${META_TOKEN}", "ad_account_id": "act_555"}}],
    }, environ={"META_TOKEN": "meta-token"})
    clock = FixedClock.at_day(TODAY, hour=12)
    run_cycle(engine, config, connectors_for(config, clock, platforms), clock, dry_run=True)
    with engine.connect() as connection:
        ad_set = next(e for e in store.load_entities(connection, "acme-social").values()
                      if e.level == "ad_set" and e.daily_budget is not None)
    assert ad_set.daily_budget is not None

    def budget_action(before: Decimal, after: Decimal, state_at: timedelta, salt: str) -> int:
        proposal = Proposal(kind="set_budget", policy="test", account_id="acme-social", entity_id=ad_set.entity_id,
                            entity_level="ad_set", entity_name=ad_set.name, rationale="test",
                            change={"from": {"daily_budget": str(before)}, "to": {"daily_budget": str(after)}})
        with engine.begin() as connection:
            action_id = create_action(connection, proposal, cycle_id=None, permission="auto", dry_run=False,
                                      now=clock.now() - state_at, key_salt=salt)
            transition(connection, action_id, "approved", actor="gate", reason="test", now=clock.now() - state_at)
        return action_id

    # Four changes executed in the last hour by the process before the restart (budgets unchanged
    # in the world: only their count matters here).
    for n in range(4):
        action_id = budget_action(ad_set.daily_budget, ad_set.daily_budget, timedelta(minutes=50 - n), f"earlier-{n}")
        with engine.begin() as connection:
            at = clock.now() - timedelta(minutes=50 - n)
            transition(connection, action_id, "executing", actor="executor", reason="test", now=at)
            transition(connection, action_id, "executed", actor="executor", reason="test", now=at)
    fifth = budget_action(ad_set.daily_budget, ad_set.daily_budget + Decimal("1"), timedelta(0), "fifth")
    platforms.meta.traffic.reset()

    execute_approved(engine, connectors_for(config, clock, platforms), config, clock)  # a fresh process

    with engine.connect() as connection:
        action = get_action(connection, fifth)
    assert action is not None and action["state"] == "rejected"
    assert "4 budget changes in the last hour; the platform allows 4" in action["decision_reason"]
    assert platforms.meta.traffic.counts["post:batch"] == 0
