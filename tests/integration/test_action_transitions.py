"""The action state machine's guarantees, with one UPDATE and one audit INSERT per transition:
an illegal move raises and writes nothing, a stale one is detected, and every move is audited
with who made it, how and why."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agent.errors import IllegalTransition, StaleTransition
from agent.storage.action_states import get_action, transition
from agent.storage.models import AuditEvent
from tests.integration.conftest import SimWorld, pause_proposal


def _events(world: SimWorld, action_id: int) -> list[tuple[str, str, str, dict]]:
    with world.engine.connect() as connection:
        return [(e.event, e.actor, e.message, e.data) for e in connection.execute(
            select(AuditEvent.event, AuditEvent.actor, AuditEvent.message, AuditEvent.data)
            .where(AuditEvent.action_id == action_id).order_by(AuditEvent.id))]


def _state(world: SimWorld, action_id: int) -> str:
    with world.engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None
    return str(action["state"])


def test_a_move_is_audited_with_who_how_and_why(sim_world: SimWorld) -> None:
    action_id = sim_world.queue(pause_proposal(sim_world.active_ad_sets("shop-meta")[0]))
    with sim_world.engine.begin() as connection:
        transition(connection, action_id, "executing", actor="executor", reason="claimed", now=sim_world.clock.now(),
                   claimed_by="worker-1", data={"attempt": 1})
    assert _state(sim_world, action_id) == "executing"
    event, actor, message, data = _events(sim_world, action_id)[-1]
    assert (event, actor, message) == ("state:executing", "executor", "claimed")
    assert data == {"from": "approved", "to": "executing", "attempt": 1}
    with sim_world.engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None and action["claimed_by"] == "worker-1"


def test_an_illegal_move_raises_and_writes_nothing(sim_world: SimWorld) -> None:
    action_id = sim_world.queue(pause_proposal(sim_world.active_ad_sets("shop-meta")[0]), state="pending_approval")
    before = _events(sim_world, action_id)
    for target, expected in (("executing", None), ("executed", None), ("executing", "pending_approval")):
        with sim_world.engine.begin() as connection, pytest.raises(IllegalTransition):
            transition(connection, action_id, target, actor="x", reason="y", now=sim_world.clock.now(),
                       expected=expected)
    assert _state(sim_world, action_id) == "pending_approval"
    assert _events(sim_world, action_id) == before


def test_a_stale_move_is_detected_and_a_missing_action_named(sim_world: SimWorld) -> None:
    action_id = sim_world.queue(pause_proposal(sim_world.active_ad_sets("shop-meta")[0]))
    with sim_world.engine.begin() as connection:
        transition(connection, action_id, "executing", actor="first", reason="claimed", now=sim_world.clock.now(),
                   expected="approved")
    before = _events(sim_world, action_id)
    with sim_world.engine.begin() as connection, pytest.raises(StaleTransition):
        transition(connection, action_id, "executing", actor="second", reason="claimed too",
                   now=sim_world.clock.now(), expected="approved")
    with sim_world.engine.begin() as connection, pytest.raises(IllegalTransition):  # only from approved
        transition(connection, action_id, "executing", actor="second", reason="claimed too", now=sim_world.clock.now())
    with sim_world.engine.begin() as connection, pytest.raises(KeyError):
        transition(connection, 10**9, "executing", actor="x", reason="y", now=sim_world.clock.now())
    assert _events(sim_world, action_id) == before
