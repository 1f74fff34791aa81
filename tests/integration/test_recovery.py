"""Crashed cycles are closed on restart, and a new leader runs the interrupted cycle at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import Engine, select

from agent.storage.models import Cycle
from connectors.records import MUTATION_KINDS
from tests.integration.conftest import TODAY, small_config
from tests.integration.test_service import Service, free_port, query, wait_for, write_config

AUTO = {"defaults": {"permissions": {kind: "auto" for kind in MUTATION_KINDS}}}


def run_once(config_path: Path, fault: str | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMA_SIM_")}
    if fault:
        env["PMA_SIM_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "agent", "run", "--once", "--config", str(config_path),
                           "--today", TODAY.isoformat()], env=env, capture_output=True, timeout=180)


def test_a_cycle_killed_mid_run_is_closed_as_crashed_on_the_next_start(tmp_path: Path, database_url: str,
                                                                        engine: Engine) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url, **AUTO)))
    crashed = run_once(config_path, fault="after_apply:1")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()
    with engine.connect() as connection:
        (killed,) = connection.execute(select(Cycle.id, Cycle.status)).all()
    assert killed.status == "running"
    again = run_once(config_path)
    assert again.returncode == 0, (again.stdout + again.stderr).decode()
    with engine.connect() as connection:
        rows = {row.id: row for row in connection.execute(select(Cycle.id, Cycle.status, Cycle.summary))}
    assert rows[killed.id].status == "crashed"
    settled = rows[killed.id].summary["crashed"]["settled_on_recovery"]
    assert settled.get("reconciled_executed", 0) >= 1  # the write that landed before the kill
    assert [row.status for cycle_id, row in rows.items() if cycle_id != killed.id] == ["ok"]


def test_a_new_leader_runs_the_interrupted_cycle_at_once(tmp_path: Path, database_url: str,
                                                          services: list[Service]) -> None:
    port = free_port()
    config = write_config(tmp_path, database_url, port, **AUTO)
    raw = yaml.safe_load(config.read_text())
    raw["service"]["cycle_interval_minutes"] = 120  # the next scheduled run is far away
    config.write_text(yaml.safe_dump(raw))
    crashing = Service(config, port, env={"PMA_SIM_FAULT": "after_apply:1"})
    services.append(crashing)
    assert crashing.process.wait(timeout=60) == -signal.SIGKILL
    assert [row.status for row in query(database_url, "SELECT status FROM cycles")] == ["running"]
    restarted = Service(config, port)
    services.append(restarted)
    wait_for(lambda: restarted.get("/readyz")[0] == 200, 60, "the new leader to recover and turn ready")
    status, body = restarted.get("/readyz")
    assert body["recovery"] == "done" and body["stuck_actions"] == 0
    statuses = [row.status for row in query(database_url, "SELECT status FROM cycles ORDER BY id")]
    assert statuses == ["crashed", "ok"]
    assert query(database_url, "SELECT id FROM actions WHERE state IN ('executing', 'approved')") == []
    assert restarted.stop() == 0
