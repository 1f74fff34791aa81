"""Property: whatever stream of proposals, approvals and clock steps, no executed change breaks a
guardrail, the cumulative daily cap included. Checked on the platform's own mutation log."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.execution.executor import execute_approved
from agent.storage import db, store
from tests.fakes.postgres import throwaway_schema
from tests.integration.conftest import budget_proposal, make_world

GUARDRAILS = {"max_budget_change_pct": 20, "max_daily_budget_change_pct": 30,
              "cooldown_hours": {"default": 0}, "budget_changes_per_hour": 3}
FACTORS = ["0.5", "0.8", "0.85", "0.9", "0.95", "1.05", "1.1", "1.15", "1.2", "1.25", "1.6"]

step = st.one_of(
    st.tuples(st.just("propose"), st.integers(0, 2), st.sampled_from(FACTORS), st.booleans()),
    st.tuples(st.just("execute")),
    st.tuples(st.just("advance"), st.integers(1, 900)),
)


def fresh_database(kind: str, tmp_path: Path, postgres_url: str | None) -> tuple[str, Any]:
    """A new empty database per example (hypothesis runs many in one test) and its clean-up."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}", None
    assert postgres_url
    schema = throwaway_schema(postgres_url, prefix="p")
    return schema.__enter__(), lambda: schema.__exit__(None, None, None)


def check_log(log: list[dict[str, Any]], initial: dict[str, Decimal], timezone: str) -> None:
    """Per change <= 20%; per entity and local day, total movement <= 30% of the day's start."""
    current = dict(initial)
    moved: dict[tuple[str, Any], Decimal] = defaultdict(Decimal)
    day_start: dict[tuple[str, Any], Decimal] = {}
    for row in log:
        entity, new = row["entity_id"], Decimal(str(row["params"]["daily_budget"]))
        before = current[entity]
        assert abs(new - before) <= before * Decimal("0.2") + Decimal("0.000001"), row
        applied = row["applied_at"]
        day = (applied if applied.tzinfo else applied.replace(tzinfo=ZoneInfo("UTC"))).astimezone(
            ZoneInfo(timezone)).date()
        day_start.setdefault((entity, day), before)
        moved[(entity, day)] += abs(new - before)
        assert moved[(entity, day)] <= day_start[(entity, day)] * Decimal("0.3") + Decimal("0.000001"), row
        current[entity] = new


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_no_executed_change_breaks_a_guardrail(
    kind: str, steps: list[tuple[Any, ...]], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    postgres_url = request.getfixturevalue("postgres_url") if kind == "postgresql" else None
    url, cleanup = fresh_database(kind, tmp_path, postgres_url)
    engine = store.make_engine(url)
    try:
        db.upgrade(engine)
        world = make_world(engine, url, defaults={"guardrails": GUARDRAILS})
        holders = world.budget_holders("shop-meta")[:3]
        initial = {h.entity_id: h.daily_budget for h in holders}
        for action in steps:
            if action[0] == "propose":
                _, index, factor, stale = action
                live = world.live("shop-meta")[holders[index % len(holders)].entity_id]
                # a stale proposal reads an old budget: the drift check must catch it
                proposal = budget_proposal(holders[index % len(holders)] if stale else live, factor)
                world.queue(proposal)
            elif action[0] == "execute":
                execute_approved(engine, world.connectors, world.config, world.clock)
            else:
                world.clock.advance(timedelta(minutes=action[1]))
        execute_approved(engine, world.connectors, world.config, world.clock)
        log = [row for row in world.simulator.mutation_log() if row["actor"] == "agent"]
        check_log(log, {k: v for k, v in initial.items() if v is not None}, "Europe/Berlin")
    finally:
        engine.dispose()
        if cleanup:
            cleanup()
