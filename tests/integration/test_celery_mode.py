"""Celery execution mode: a real worker process and the real Redis broker produce the same actions
as in-process execution, on the same simulator seed and day."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from sqlalchemy import Engine

from agent.bootstrap import account_runner, build_connectors
from agent.config import parse_config
from agent.cycle.run import run_cycle
from agent.runtime.celery_app import worker_setup
from agent.storage import db, store
from agent.storage.action_states import list_actions
from tests.integration.conftest import TODAY, small_config
from tests.integration.test_guardrail_properties import fresh_database

REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")


@pytest.fixture
def broker_url() -> str:
    # one broker URL per test process (a Celery app keeps its first connection); tests are kept
    # apart by queue name instead
    url = f"redis://{REDIS_HOST}:6379/9"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"the Celery test needs Redis at {REDIS_HOST}:6379 (apt-get install redis-server)",
                    pytrace=False)
    return url


@pytest.fixture
def queue() -> str:
    return f"pma-test-{uuid.uuid4().hex[:12]}"  # concurrent test runs never take each other's tasks


@pytest.fixture
def worker(broker_url: str, queue: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "agent.runtime.celery_app", "worker", "--pool=solo", "--concurrency=1",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env={**os.environ, "PMA_CELERY_BROKER_URL": broker_url, "PMA_CELERY_QUEUE": queue}, stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in (tmp_path / "worker.log").read_text() and time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "worker.log").read_text()
        time.sleep(0.2)
    yield process
    process.terminate()
    process.wait(timeout=30)


def actions_of(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return sorted((a["account_id"], a["entity_id"], a["kind"], json.dumps(a["change"], sort_keys=True),
                       a["state"]) for a in list_actions(connection))


def test_celery_workers_produce_the_same_actions_as_in_process(
    tmp_path: Path, database_url: str, engine: Engine, broker_url: str, queue: str,
    worker: subprocess.Popen[bytes], request: pytest.FixtureRequest,
) -> None:
    from agent.clock import FixedClock

    clock = FixedClock.at_day(TODAY, hour=12)
    in_process = parse_config(small_config(database_url), environ={})
    summary = run_cycle(engine, in_process, build_connectors(in_process, clock, engine), clock)
    expected = actions_of(engine)
    assert expected and summary.accounts_failed == 0

    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    other_url, cleanup = fresh_database(kind, tmp_path, request.getfixturevalue("postgres_url")
                                        if kind == "postgresql" else None)
    other = store.make_engine(other_url)
    try:
        db.upgrade(other)
        raw = small_config(other_url, execution={"mode": "celery", "celery_broker_url": broker_url,
                                                 "celery_queue": queue, "account_timeout_seconds": 120})
        config_path = tmp_path / "celery.yaml"
        config_path.write_text(yaml.safe_dump(raw))
        celery_config = parse_config(raw, environ={})
        summary = run_cycle(other, celery_config, build_connectors(celery_config, clock, other), clock,
                            run_accounts=account_runner(celery_config, config_path))
        assert summary.accounts == 2 and summary.accounts_failed == 0, summary.errors
        assert actions_of(other) == expected
        # each worker executed its own account: none was left to the coordinator's end-of-cycle sweep
        assert summary.executed_accounts == {a.id for a in celery_config.accounts}
    finally:
        other.dispose()
        if cleanup:
            cleanup()


def test_a_worker_parses_the_config_once_per_content_of_the_file(tmp_path: Path, database_url: str) -> None:
    config_path = tmp_path / "agent.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url)))
    first = worker_setup(config_path)
    assert worker_setup(config_path) is first  # the next task reuses config, engine and shared limits
    edited = small_config(database_url, execution={"max_concurrency_per_platform": {"default": 2}})
    config_path.write_text(yaml.safe_dump(edited))
    second = worker_setup(config_path)
    assert second is not first and second.config.execution.concurrency_for("meta") == 2
    second.close()
