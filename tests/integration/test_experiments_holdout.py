"""Randomized holdouts at gate time: the draw is recorded before anything executes, reproducible,
held for the horizon, and a held-out proposal never executes (approval, restart, recovery)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import yaml
from click.testing import CliRunner
from sqlalchemy import Engine

from agent.approvals.decisions import decide_action
from agent.cli import main
from agent.cycle.run import run_cycle
from agent.execution.executor import execute_approved
from agent.execution.recovery import recover
from agent.experiments.store import experiments_since
from agent.storage import audit_trail
from agent.storage.action_states import list_actions
from connectors.records import MUTATION_KINDS
from policies.holdout import draw_arm
from tests.integration.conftest import make_world, small_config

# a large share so the small seeded world surely holds some out
SETTINGS = {
    "defaults": {"permissions": {kind: "auto" for kind in MUTATION_KINDS}},
    "experiments": {"holdout_share": {"pause": 0.6, "set_budget": 0.6}, "seed": 3},
}


def held_out_entities(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {a["entity_id"] for a in list_actions(connection, "held_out")}


def test_held_out_proposals_are_recorded_with_their_draw_and_never_executed(
        tmp_path: Path, database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url, **SETTINGS)
    summary = run_cycle(engine, world.config, world.connectors, world.clock)
    held = held_out_entities(engine)
    assert summary.actions_by_state["held_out"] == len(held) > 0
    touched = {m["entity_id"] for m in world.simulator.mutation_log()}
    assert touched and not touched & held, "a held-out entity was changed on the platform"

    with engine.connect() as connection:
        draws = experiments_since(connection)
        actions = {a["id"]: a for a in list_actions(connection)}
        for draw in draws:
            # reproducible: the recorded seed gives the recorded arm
            assert draw_arm(int(draw["draw_seed"]), draw["share"]).arm == draw["arm"]
            events = [e["event"] for e in audit_trail.action_events(connection, draw["action_id"])]
            # drawn at gate time: before the action is queued, approved, held out or executed
            drawn = events.index("experiment_draw")
            later = [e for e in events if e.startswith("state:")]
            assert later and all(events.index(e) > drawn for e in later), events
            assert actions[draw["action_id"]]["state"] in ({"held_out"} if draw["arm"] == "held_out"
                                                           else {"executed", "superseded", "failed", "approved"})
    assert {d["entity_id"] for d in draws if d["arm"] == "held_out"} == held

    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url, **SETTINGS)))
    result = CliRunner().invoke(main, ["actions", "list", "--status", "held_out", "--json", "--config",
                                       str(config_path)])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {a["entity_id"] for a in listed} == held
    assert all(a["state"] == "held_out" and a["experiment"]["arm"] == "held_out" and a["experiment"]["draw_seed"]
               and a["experiment"]["horizon_end"] and a["evidence"] for a in listed)


def test_a_held_out_action_cannot_be_approved_executed_or_revived_by_recovery(
        database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url, **SETTINGS)
    run_cycle(engine, world.config, world.connectors, world.clock)
    with engine.connect() as connection:
        held_ids = [a["id"] for a in list_actions(connection, "held_out")]
    assert held_ids
    before = len(world.simulator.mutation_log())
    for action_id in held_ids:
        assert not decide_action(engine, action_id, "approve", approver="someone", channel="cli",
                                 now=world.clock.now()).ok
    execute_approved(engine, world.connectors, world.config, world.clock, action_ids=held_ids)
    recover(engine, world.connectors, world.config, world.clock)  # a restart after a crash
    execute_approved(engine, world.connectors, world.config, world.clock)
    with engine.connect() as connection:
        assert {a["state"] for a in list_actions(connection) if a["id"] in held_ids} == {"held_out"}
    assert len(world.simulator.mutation_log()) == before


def test_the_arm_holds_for_the_horizon_and_a_new_draw_follows_it(database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url, **SETTINGS)
    run_cycle(engine, world.config, world.connectors, world.clock)
    with engine.connect() as connection:
        first = {(d["entity_id"], d["kind"]): d["arm"] for d in experiments_since(connection)}
    world.clock.advance(timedelta(days=1))
    run_cycle(engine, world.config, world.connectors, world.clock)
    with engine.connect() as connection:
        draws = experiments_since(connection)
    pairs = [(d["entity_id"], d["kind"]) for d in draws]
    repeated = [pair for pair in pairs if pair in first]
    assert len(repeated) == len(set(repeated)), "a pair was drawn twice inside its horizon"
    assert held_out_entities(engine) >= {entity for (entity, _), arm in first.items() if arm == "held_out"}
    touched = {m["entity_id"] for m in world.simulator.mutation_log()}
    assert not touched & {entity for (entity, _), arm in first.items() if arm == "held_out"}
