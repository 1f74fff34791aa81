"""Thirty simulated days with every action kind on `auto`: no entity is flipped back and forth
(paused then re-enabled, or its budget raised then lowered) within its cooldown."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from agent.cycle.run import run_cycle
from connectors.records import MUTATION_KINDS
from tests.integration.conftest import TODAY, make_world

COOLDOWN = timedelta(hours=72)
DAYS = 30


def direction(row: dict[str, Any], previous_budget: Decimal | None) -> str:
    if row["kind"] in ("pause", "enable"):
        return str(row["kind"])
    if row["kind"] == "set_budget" and previous_budget is not None:
        return "up" if Decimal(str(row["params"]["daily_budget"])) > previous_budget else "down"
    return str(row["kind"])


def test_thirty_days_on_auto_never_flip_flop(engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, defaults={"permissions": {kind: "auto" for kind in MUTATION_KINDS}})
    budgets = {e.entity_id: e.daily_budget for a in world.config.accounts for e in world.simulator.entities(a.id)}
    for day in range(DAYS):
        world.clock.current = datetime.combine(TODAY + timedelta(days=day), time(9), tzinfo=UTC)
        run_cycle(engine, world.config, world.connectors, world.clock)
    # additive changes (new ads, negative lists, exclusions) stand side by side; the cooldown is
    # about an entity's state: its status and its budget
    log = [row for row in world.simulator.mutation_log()
           if row["actor"] == "agent" and row["kind"] in ("pause", "enable", "set_budget")]
    assert log, "thirty days on auto should change something"
    history: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for row in log:
        history[row["entity_id"]].append((row["applied_at"], direction(row, budgets.get(row["entity_id"]))))
        if row["kind"] == "set_budget":
            budgets[row["entity_id"]] = Decimal(str(row["params"]["daily_budget"]))
    opposite = {"pause": "enable", "enable": "pause", "up": "down", "down": "up"}
    for entity_id, changes in history.items():
        for (at_1, move_1), (at_2, move_2) in zip(changes, changes[1:], strict=False):
            assert not (opposite.get(move_1) == move_2 and at_2 - at_1 < COOLDOWN), (entity_id, changes)
            assert at_2 - at_1 >= COOLDOWN, f"{entity_id} changed twice within the cooldown: {changes}"
