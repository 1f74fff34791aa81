"""The snapshot carries the agent's executed budget moves with their direction (for hysteresis)."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from agent.cycle.run import run_cycle
from agent.decisions.snapshots import load_snapshot
from agent.execution.executor import execute_approved
from policies.base import BudgetMove, Proposal
from policies.budget_holders import budget_change
from tests.integration.conftest import TODAY, make_world


def test_an_executed_budget_cut_is_in_the_next_snapshot(engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url)
    run_cycle(world.engine, world.config, world.connectors, world.clock, dry_run=True)  # pull and store
    account = world.config.account("shop-meta")
    snapshot = load_snapshot(world.engine, account, TODAY, world.clock)
    assert snapshot.recent_budget_moves == {}
    holder = next(e for e in sorted(snapshot.entities.values(), key=lambda e: e.entity_id)
                  if e.daily_budget is not None and e.status == "ACTIVE")
    assert holder.daily_budget is not None
    before = holder.daily_budget
    after = (before * Decimal("0.9")).quantize(Decimal("0.01"))
    world.queue(Proposal.about("shop-meta", holder, kind="set_budget", policy="reallocation",
                               change=budget_change(before, after, account.currency), rationale="test cut",
                               evidence={}), "approved")
    assert execute_approved(world.engine, world.connectors, world.config, world.clock).outcomes["executed"] == 1
    moves = load_snapshot(world.engine, account, TODAY, world.clock).recent_budget_moves
    assert moves == {holder.entity_id: [BudgetMove(world.clock.now().astimezone(ZoneInfo(account.timezone)).date(), before, after)]}
