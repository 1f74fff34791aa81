"""Claims that survive PID reuse and reboots: an `executing` action whose claimant is a live but
unrelated process, or a process from before the last boot, is settled by reconciliation."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from agent import prometheus as metrics
from agent.execution.reconcile import reconcile
from agent.reports.dashboard import render_dashboard
from agent.runtime.server import ServiceStatus, readiness
from agent.storage.action_states import get_action, transition
from agent.storage.claims import (
    HOST,
    boot_id,
    claim_is_orphaned,
    parse_claim,
    process_start_ticks,
    stuck_actions,
)
from tests.integration.conftest import SimWorld, pause_proposal


@pytest.fixture
def unrelated_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that has nothing to do with the agent (its PID stands for a reused one)."""
    process = subprocess.Popen(["sleep", "600"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def metric(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def claimed(world: SimWorld, claimed_by: str) -> int:
    """An action left in `executing` under `claimed_by`, never applied."""
    entity = world.active_ad_sets("shop-meta")[0]
    action_id = world.queue(pause_proposal(entity))
    with world.engine.begin() as connection:
        transition(connection, action_id, "executing", actor="executor", reason="claimed", now=world.clock.now(),
                   expected="approved", claimed_by=claimed_by)
    return action_id


def state_of(world: SimWorld, action_id: int) -> str:
    with world.engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None
    return str(action["state"])


def test_a_claim_naming_a_reused_pid_is_settled(sim_world: SimWorld,
                                                unrelated_process: subprocess.Popen[bytes]) -> None:
    pid = unrelated_process.pid
    real_start = process_start_ticks(pid)
    assert real_start, "this test needs /proc"
    # the claimant had this PID but started at another tick: the PID now belongs to `sleep`
    action_id = claimed(sim_world, f"{HOST}:{pid}:{uuid.uuid4().hex[:8]}:{boot_id()}:{int(real_start) - 1}")
    with sim_world.engine.connect() as connection:
        assert [a["id"] for a in stuck_actions(connection, sim_world.clock.now())] == [action_id]
    assert "Stuck in executing (1)" in render_dashboard(sim_world.engine, sim_world.config, sim_world.clock)
    assert readiness(sim_world.engine, sim_world.config, ServiceStatus(), sim_world.clock.now())[1]["stuck_actions"] == 1
    settled_before = metric("pma_stuck_actions_settled_total", outcome="requeued")
    report = reconcile(sim_world.engine, sim_world.connectors, sim_world.config, sim_world.clock)
    assert report.outcomes["reconciled_requeued"] == 1
    assert metric("pma_stuck_actions_settled_total", outcome="requeued") == settled_before + 1
    assert state_of(sim_world, action_id) == "approved"
    assert unrelated_process.poll() is None  # alive all along: the PID alone would have kept the claim


def test_a_claim_from_before_a_reboot_is_settled(sim_world: SimWorld,
                                                 unrelated_process: subprocess.Popen[bytes]) -> None:
    pid = unrelated_process.pid
    action_id = claimed(sim_world, f"{HOST}:{pid}:cafe0001:{uuid.uuid4()}:{process_start_ticks(pid)}")
    reconcile(sim_world.engine, sim_world.connectors, sim_world.config, sim_world.clock)
    assert state_of(sim_world, action_id) == "approved"


def test_a_live_claimant_is_left_alone(sim_world: SimWorld, unrelated_process: subprocess.Popen[bytes]) -> None:
    pid = unrelated_process.pid
    action_id = claimed(sim_world, f"{HOST}:{pid}:cafe0002:{boot_id()}:{process_start_ticks(pid)}")
    report = reconcile(sim_world.engine, sim_world.connectors, sim_world.config, sim_world.clock)
    assert sum(report.outcomes.values()) == 0
    assert state_of(sim_world, action_id) == "executing"
    with sim_world.engine.connect() as connection:
        assert stuck_actions(connection, sim_world.clock.now()) == []


def test_old_format_claims_are_still_read(unrelated_process: subprocess.Popen[bytes]) -> None:
    now = datetime.now(UTC)
    live = f"{HOST}:{unrelated_process.pid}:cafe0003"
    assert parse_claim(live).pid == unrelated_process.pid and parse_claim(live).boot_id is None
    assert not claim_is_orphaned(live, now, now)
    finished = subprocess.Popen(["true"])
    finished.wait()
    assert claim_is_orphaned(f"{HOST}:{finished.pid}:cafe0004", now, now)
