"""The permission level is checked again right before execution: lowering `auto` stops what it approved."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from agent.config import AgentConfig, parse_config
from agent.execution.executor import execute_approved
from agent.storage.action_states import create_action, get_action, transition
from tests.integration.conftest import SimWorld, make_world, pause_proposal, small_config


def auto_approved(world: SimWorld, index: int = 0) -> int:
    """A pause the gate approved on its own under `pause: auto`, waiting to execute."""
    now = world.clock.now()
    proposal = pause_proposal(world.active_ad_sets("shop-meta")[index])
    with world.engine.begin() as connection:
        action_id = create_action(connection, proposal, cycle_id=None, permission="auto", dry_run=False, now=now,
                                  key_salt=f"test-{uuid.uuid4().hex}")
        transition(connection, action_id, "approved", actor="gate", now=now,
                   reason="permission auto: within guardrails, approved for execution",
                   data={"permission": "auto", "dry_run": False})
    return action_id


def lowered(database_url: str, level: str) -> AgentConfig:
    return parse_config(small_config(database_url, defaults={"permissions": {"pause": level}}), environ={})


def state_and_reason(world: SimWorld, action_id: int) -> tuple[str, str]:
    with world.engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None
    return str(action["state"]), str(action["decision_reason"])


def execute(world: SimWorld, config: AgentConfig) -> Counter[str]:
    return execute_approved(world.engine, world.connectors, config, world.clock).outcomes


def auto_world(engine: Any, database_url: str) -> SimWorld:
    return make_world(engine, database_url, defaults={"permissions": {"pause": "auto"}})


def test_lowering_auto_to_observe_stops_auto_approved_actions_waiting_to_execute(engine: Any,
                                                                                 database_url: str) -> None:
    world = auto_world(engine, database_url)
    action_id = auto_approved(world)
    assert execute(world, lowered(database_url, "observe")) == Counter({"rejected": 1})
    state, reason = state_and_reason(world, action_id)
    assert state == "rejected" and "permission for pause is now observe" in reason
    assert world.simulator.mutation_log() == []


def test_under_propose_only_what_a_person_approved_still_runs(engine: Any, database_url: str) -> None:
    world = auto_world(engine, database_url)
    automatic = auto_approved(world, 0)
    by_a_person = world.queue(pause_proposal(world.active_ad_sets("shop-meta")[1]))
    assert execute(world, lowered(database_url, "propose")) == Counter({"rejected": 1, "executed": 1})
    state, reason = state_and_reason(world, automatic)
    assert state == "rejected" and "permission for pause is now propose" in reason
    assert state_and_reason(world, by_a_person)[0] == "executed"


def test_an_unchanged_auto_permission_executes(engine: Any, database_url: str) -> None:
    world = auto_world(engine, database_url)
    action_id = auto_approved(world)
    assert execute(world, world.config) == Counter({"executed": 1})
    assert state_and_reason(world, action_id)[0] == "executed"
