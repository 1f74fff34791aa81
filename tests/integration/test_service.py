"""`serve` as a real process: jobs fire, readiness, SIGTERM mid-cycle, SIGKILL recovery, misfires,
and two processes electing one leader."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from agent.storage.action_states import as_utc
from agent.storage.models import Cycle
from connectors.records import MUTATION_KINDS
from tests.integration.conftest import small_config

CYCLE_SECONDS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """One `paid-media-agent serve` subprocess and its HTTP port."""

    def __init__(self, config_path: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.log = config_path.parent / f"serve-{port}-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agent", "serve", "--config", str(config_path)],
            env={**os.environ, **(env or {})}, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=3) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, urllib.error.URLError, sa.exc.SQLAlchemyError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def write_config(tmp_path: Path, database_url: str, port: int, **extra: Any) -> Path:
    raw = small_config(database_url, service={"port": port, "cycle_interval_minutes": CYCLE_SECONDS / 60,
                                              "leader_poll_seconds": 0.5, "shutdown_timeout_seconds": 20,
                                              "log_format": "json"}, **extra)
    path = tmp_path / f"config-{port}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def query(database_url: str, sql: str) -> list[Any]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(sql)))
    finally:
        engine.dispose()


def test_jobs_fire_readiness_and_clean_sigterm(tmp_path: Path, database_url: str, services: list[Service]) -> None:
    port = free_port()
    service = Service(write_config(tmp_path, database_url, port), port)
    services.append(service)
    wait_for(lambda: service.get("/healthz")[0] == 200, 20, "/healthz")
    wait_for(lambda: service.get("/readyz")[0] == 200, 30, "/readyz to turn ready")
    status, body = service.get("/readyz")
    assert body["role"] == "leader" and body["database"] == "ok" and body["scheduler"] == "running"
    wait_for(lambda: len(query(database_url, "SELECT id FROM cycles WHERE status = 'ok'")) >= 2, 30,
             "a second scheduled cycle")
    assert service.stop() == 0, service.output()
    assert '"event": "service.stopped"' in service.output()
    assert query(database_url, "SELECT id FROM actions WHERE state = 'executing'") == []


def test_sigterm_mid_cycle_exits_cleanly_and_leaves_nothing_half_done(
    tmp_path: Path, database_url: str, services: list[Service]
) -> None:
    port = free_port()
    config = write_config(tmp_path, database_url, port,
                          defaults={"permissions": {kind: "auto" for kind in MUTATION_KINDS}})
    service = Service(config, port, env={"PMA_SIM_LATENCY_MS": "400"})
    services.append(service)
    wait_for(lambda: len(query(database_url, "SELECT id FROM cycles WHERE status = 'running'")) == 1, 30,
             "a cycle in progress")
    started = time.monotonic()
    assert service.stop() == 0, service.output()
    assert time.monotonic() - started < 20
    statuses = [row.status for row in query(database_url, "SELECT status FROM cycles")]
    assert "running" not in statuses and "interrupted" in statuses
    assert query(database_url, "SELECT id FROM actions WHERE state = 'executing'") == []


def test_restart_after_sigkill_during_execution_reconciles(
    tmp_path: Path, database_url: str, services: list[Service]
) -> None:
    port = free_port()
    config = write_config(tmp_path, database_url, port,
                          defaults={"permissions": {kind: "auto" for kind in MUTATION_KINDS}})
    crashing = Service(config, port, env={"PMA_SIM_FAULT": "after_apply:1"})
    services.append(crashing)
    assert crashing.process.wait(timeout=60) == -signal.SIGKILL
    assert len(query(database_url, "SELECT id FROM actions WHERE state = 'executing'")) >= 1
    restarted = Service(config, port)
    services.append(restarted)
    wait_for(lambda: not query(database_url, "SELECT id FROM actions WHERE state IN ('executing', 'approved')"),
             40, "the interrupted actions to be settled")
    assert restarted.stop() == 0
    applied = Counter(row.idempotency_key for row in query(
        database_url, "SELECT idempotency_key FROM sim_mutations WHERE actor = 'agent'"))
    executed = {row.idempotency_key for row in query(
        database_url, "SELECT idempotency_key FROM actions WHERE state = 'executed'")}
    assert executed and set(applied) == executed
    assert set(applied.values()) == {1}, applied


def next_cycle_run(database_url: str) -> float:
    """When APScheduler's job store says the cycle job runs next (Unix time)."""
    (row,) = query(database_url, "SELECT next_run_time FROM apscheduler_jobs WHERE id = 'cycle'")
    return float(row.next_run_time)


def cycle_starts(database_url: str) -> list[float]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            starts = connection.execute(sa.select(Cycle.started_at).order_by(Cycle.id)).scalars().all()
    finally:
        engine.dispose()
    return [as_utc(started).timestamp() for started in starts]


def test_missed_runs_run_once_on_return(tmp_path: Path, database_url: str, services: list[Service]) -> None:
    port = free_port()
    config = write_config(tmp_path, database_url, port)
    first = Service(config, port)
    services.append(first)
    wait_for(lambda: len(query(database_url, "SELECT id FROM cycles WHERE status = 'ok'")) >= 1, 30,
             "the first cycle")
    assert first.stop() == 0
    due = next_cycle_run(database_url)
    time.sleep(max(0.0, due - time.time()) + CYCLE_SECONDS * 2)  # down across two (or more) scheduled runs
    restart = time.time()
    missed = int((restart - due) // CYCLE_SECONDS) + 1
    assert missed >= 2
    before = len(cycle_starts(database_url))
    second = Service(config, port)
    services.append(second)
    wait_for(lambda: len(cycle_starts(database_url)) > before, 30, "the missed run")
    wait_for(lambda: next_cycle_run(database_url) > restart, 10, "the job to be rescheduled")
    next_regular = next_cycle_run(database_url)
    wait_for(lambda: time.time() > next_regular + 1, CYCLE_SECONDS + 5, "the next regular run to be due")
    caught_up = [t for t in cycle_starts(database_url)[before:] if t < next_regular]
    assert len(caught_up) == 1, f"{missed} missed runs should run once on return, ran {len(caught_up)} times"
    assert second.stop() == 0


def test_two_services_elect_one_leader_and_fail_over(
    tmp_path: Path, database_url: str, services: list[Service]
) -> None:
    ports = [free_port(), free_port()]
    for port in ports:
        services.append(Service(write_config(tmp_path, database_url, port), port))
    for service in services:
        wait_for(lambda s=service: s.get("/healthz")[0] == 200, 20, "/healthz")  # type: ignore[misc]
    wait_for(lambda: sorted(s.get("/readyz")[1].get("role", "") for s in services) == ["leader", "standby"], 30,
             "one leader and one standby")
    leader = next(s for s in services if s.get("/readyz")[1]["role"] == "leader")
    standby = next(s for s in services if s is not leader)
    leader.stop(signal.SIGKILL)
    started = time.monotonic()
    wait_for(lambda: standby.get("/readyz")[1].get("role") == "leader", 15, "the standby to take over")
    assert time.monotonic() - started < 15
    cycles_before = len(query(database_url, "SELECT id FROM cycles"))
    wait_for(lambda: len(query(database_url, "SELECT id FROM cycles")) > cycles_before, 30, "the new leader's cycle")
    assert standby.stop() == 0
