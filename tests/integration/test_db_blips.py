"""Database blips: a cycle rides out a 2 s outage of PostgreSQL anywhere in its run, and nothing is
applied twice because of a retry. An unreachable database at start is one line and exit 2."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from agent.cycle.run import run_cycle
from agent.storage import db, store
from agent.storage.action_states import list_actions
from agent.storage.db_retry import is_transient
from connectors.records import MUTATION_KINDS
from tests.fakes.postgres import throwaway_schema
from tests.fakes.tcp_proxy import CuttableProxy
from tests.integration.conftest import budget_proposal, make_world, pause_proposal, small_config

AUTO = {"defaults": {"permissions": {kind: "auto" for kind in MUTATION_KINDS}}}
OUTAGE_SECONDS = 2.0


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    with throwaway_schema(postgres_url) as url:
        yield url


def cut_on(engine: Engine, proxy: CuttableProxy, statement_start: str, nth: int) -> None:
    """Cut the network under `engine` just as its `nth` statement starting so is about to be sent."""
    seen = [0]

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(statement_start):
            seen[0] += 1
            if seen[0] == nth:
                proxy.cut(OUTAGE_SECONDS)

    event.listen(engine, "before_cursor_execute", before)


@pytest.mark.parametrize(("statement_start", "nth"), [
    ("INSERT INTO CYCLES", 1),  # the cycle's first write
    ("INSERT INTO ACTIONS", 2),  # in the middle of gating an account
    ("UPDATE ACTIONS", 9),  # among the executor's claims and recorded answers
    ("UPDATE CYCLES", 1),  # the cycle's last write
])
def test_a_cycle_survives_a_database_outage(pg_url: str, statement_start: str, nth: int) -> None:
    direct = store.make_engine(pg_url)  # the simulated platform keeps its own line to the server
    db.upgrade(direct)
    url = make_url(pg_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    agent_engine = store.make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    try:
        world = make_world(direct, pg_url, **AUTO)
        queued = [pause_proposal(e) for e in world.active_ad_sets("shop-meta")[:2]]
        queued += [budget_proposal(e, "1.10") for e in world.budget_holders("shop-search")[:2]]
        for proposal in queued:
            world.queue(proposal)
        cut_on(agent_engine, proxy, statement_start, nth)
        summary = run_cycle(agent_engine, world.config, world.connectors, world.clock)
        assert proxy.cuts == 1 and proxy.refused >= 1, "the outage never happened"
        assert summary.status == "ok" and summary.accounts_failed == 0, summary.errors
        with direct.connect() as connection:
            actions = list_actions(connection)
        assert not [a for a in actions if a["state"] in ("executing", "approved")]
        applied = Counter(m["idempotency_key"] for m in world.simulator.mutation_log())
        assert applied and set(applied.values()) == {1}
        assert set(applied) == {a["idempotency_key"] for a in actions if a["state"] == "executed"}
    finally:
        agent_engine.dispose()
        proxy.close()
        direct.dispose()


def test_sqlite_busy_is_transient_and_a_missing_table_is_not() -> None:
    locked = OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
    missing = OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: actions"))
    assert is_transient(locked) and not is_transient(missing)


@pytest.mark.parametrize("command", [["run", "--once"], ["serve"], ["db", "upgrade"]])
def test_an_unreachable_database_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    with socket_nobody_listens_on() as port:
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(small_config(f"postgresql+psycopg://agent:s3cret@127.0.0.1:{port}/agent")))
        done = subprocess.run([sys.executable, "-m", "agent", *command, "--config", str(config)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (f"error: cannot reach the database at postgresql+psycopg://agent:***@127.0.0.1:{port}/agent:"
                           " Connection refused\n")


class socket_nobody_listens_on:  # noqa: N801 (a context manager read as a phrase)
    """A local port that is bound (so nothing else takes it) but not listening: connections are refused."""

    def __enter__(self) -> int:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *_exc: object) -> None:
        self._sock.close()
