"""Real processes: SIGKILL at random points of execution, and two executors racing on one queue.

The simulator's own mutation log is the platform's record: after recovery every approved action
appears in it exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from agent.storage.action_states import list_actions
from tests.integration.conftest import (
    TODAY,
    SimWorld,
    budget_proposal,
    make_world,
    pause_proposal,
    small_config,
)

ACTIONS_IN_QUEUE = 6


def build_queue(world: SimWorld) -> list[str]:
    """Six approved actions on six different entities; returns their idempotency keys."""
    pauses = [pause_proposal(e) for e in world.active_ad_sets("shop-meta")[:3]]
    budgets = [budget_proposal(e, "1.10") for e in world.budget_holders("shop-search")[:3]]
    proposals = (pauses + budgets)[:ACTIONS_IN_QUEUE]
    ids = [world.queue(p) for p in proposals]
    with world.engine.connect() as connection:
        return [a["idempotency_key"] for a in list_actions(connection) if a["id"] in ids]


def execute_in_subprocess(config_path: Path, fault: str | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PMA_SIM_FAULT"}
    if fault:
        env["PMA_SIM_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "actions", "execute", "--config", str(config_path),
         "--today", TODAY.isoformat()],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def write_config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(database_url)))
    return path


def assert_each_applied_once(world: SimWorld, keys: list[str]) -> None:
    applied = Counter(row["idempotency_key"] for row in world.simulator.mutation_log())
    assert applied == Counter({key: 1 for key in keys})
    with world.engine.connect() as connection:
        assert {a["state"] for a in list_actions(connection)} == {"executed"}


KILL_POINTS = [f"after_apply:{n}" for n in range(1, ACTIONS_IN_QUEUE + 1)] + ["before_apply:1", "before_apply:4"]


@pytest.mark.parametrize("kill_point", random.Random(20261123).sample(KILL_POINTS, 4))
def test_sigkill_at_any_point_never_repeats_an_action(
    tmp_path: Path, database_url: str, engine: Engine, kill_point: str
) -> None:
    world = make_world(engine, database_url)
    keys = build_queue(world)
    config_path = write_config(tmp_path, database_url)
    crashed = execute_in_subprocess(config_path, fault=kill_point)
    _, stderr = crashed.communicate(timeout=120)
    assert crashed.returncode == -signal.SIGKILL, stderr.decode()
    stage, count = kill_point.split(":")
    # the two accounts execute in parallel: at a `before_apply` kill the other account's thread may
    # also be between its two points, and at either kill its apply may have landed too
    at_least = int(count) if stage == "after_apply" else max(0, int(count) - 2)
    assert at_least <= len(world.simulator.mutation_log()) < ACTIONS_IN_QUEUE + 1
    restarted = execute_in_subprocess(config_path)
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, (out + err).decode()
    assert_each_applied_once(world, keys)


def test_two_executors_on_one_queue_apply_each_action_once(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    world = make_world(engine, database_url)
    keys = build_queue(world)
    config_path = write_config(tmp_path, database_url)
    racers = [execute_in_subprocess(config_path) for _ in range(2)]
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, (out + err).decode()
    assert_each_applied_once(world, keys)
