"""One executor per account across processes: two one-shot runs at once change nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import yaml
from sqlalchemy import Engine

from agent.storage.account_lock import account_lock
from connectors.records import MUTATION_KINDS
from tests.integration.conftest import TODAY, make_world, small_config

AUTO = {"defaults": {"permissions": {kind: "auto" for kind in MUTATION_KINDS}}}


def start(config_path: Path, *args: str, latency_ms: int = 0) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMA_SIM_")}
    if latency_ms:
        env["PMA_SIM_LATENCY_MS"] = str(latency_ms)
    return subprocess.Popen([sys.executable, "-m", "agent", *args, "--config", str(config_path),
                             "--today", TODAY.isoformat()], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def effects(mutations: list[dict[str, object]]) -> Counter[tuple[str, str, str]]:
    """Each change the platform applied: the same entity, kind and parameters twice is a duplicate."""
    return Counter((str(m["entity_id"]), str(m["kind"]), json.dumps(m["params"], sort_keys=True)) for m in mutations)


def test_two_run_once_processes_at_once_apply_nothing_twice(tmp_path: Path, database_url: str,
                                                            engine: Engine) -> None:
    world = make_world(engine, database_url, **AUTO)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url, **AUTO)))
    runs = [start(config_path, "run", "--once", latency_ms=50) for _ in range(2)]
    outputs = [run.communicate(timeout=180) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, (out + err).decode()
    applied = [m for m in world.simulator.mutation_log() if m["actor"] == "agent"]
    assert applied, "the runs were expected to change something"
    duplicates = {effect: n for effect, n in effects(applied).items() if n > 1}
    assert duplicates == {}
    assert max(Counter(m["idempotency_key"] for m in applied).values()) == 1


def test_a_one_shot_command_waits_for_the_account_and_says_so(tmp_path: Path, database_url: str,
                                                               engine: Engine) -> None:
    make_world(engine, database_url)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url)))
    with account_lock(engine, "shop-meta") as held:
        assert held
        waiting = start(config_path, "run", "--once")
        line = b""
        while b"waiting for another process executing account shop-meta" not in line:
            line = waiting.stderr.readline() if waiting.stderr else b""
            assert line or waiting.poll() is None, "the run ended without waiting for the account"
        assert waiting.poll() is None
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, (out + err).decode()
    assert b"cycle" in out


def test_the_lock_is_reentrant_in_its_thread_and_exclusive_across_threads(engine: Engine) -> None:
    seen: list[bool] = []
    with account_lock(engine, "shop-meta") as outer, account_lock(engine, "shop-meta") as inner:
        assert outer and inner  # the cycle holds it and its executor takes it again
        other = threading.Thread(target=lambda: seen.append(_try(engine, "shop-meta")))
        other.start()
        other.join()
        assert seen == [False]
        assert _try(engine, "shop-search")  # other accounts are free
    assert _try(engine, "shop-meta")  # released once the outermost hold ends


def _try(engine: Engine, account_id: str) -> bool:
    with account_lock(engine, account_id, wait=False) as held:
        return held
