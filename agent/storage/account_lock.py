"""One executor per account at a time, across processes and threads.

Whoever pulls, gates or executes an account holds its lock: the `serve` leader's cycle, a one-shot
`run --once`, `actions execute`/`approve`, a Slack or email approval. A second process that wants
the same account waits (saying so once: "waiting for another process executing account X") and
then reads the platform afresh, so it never acts on a snapshot taken before the first one's writes.

On PostgreSQL the lock is a session-level advisory lock (`pg_try_advisory_lock`) held on a
dedicated connection, outside the engine's pool so that many accounts in parallel never starve
it; if the process dies the server drops the lock with the connection. Its key is a hash of the
schema and the account id computed by the server (`hashtextextended`), so processes that spell the
database URL differently still meet on the same key. On SQLite, an exclusive `flock` on one file
per account in `<database>.account-locks/` does the same on one machine.

Inside one process the lock is re-entrant per thread (the cycle holds it for an account while its
executor takes it again) and other threads wait their turn.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from agent.storage.db_retry import attempts

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2  # how often a waiting process asks again for a busy account's lock
_KEY_SQL = "hashtextextended('paid-media-agent:account:' || current_schema() || ':' || :account, 0)"


class _CrossProcessLock(Protocol):
    def release(self) -> None: ...


@dataclass
class _Slot:
    """This process's hold on one account: a re-entrant lock for its threads and, while held, the
    cross-process lock."""

    local: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    held: _CrossProcessLock | None = None


_SLOTS: dict[tuple[str, str], _Slot] = {}
_SLOTS_LOCK = threading.Lock()
_LOCK_ENGINES: dict[str, Engine] = {}


def _slot(engine: Engine, account_id: str) -> _Slot:
    key = (engine.url.render_as_string(hide_password=True), account_id)
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(key, _Slot())


class _PostgresAccountLock:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @classmethod
    def try_acquire(cls, engine: Engine, account_id: str) -> _PostgresAccountLock | None:
        connection = _lock_engine(engine).connect()
        try:
            acquired = bool(connection.execute(text(f"SELECT pg_try_advisory_lock({_KEY_SQL})"),
                                               {"account": account_id}).scalar_one())
            connection.commit()  # the lock is the session's, not the transaction's: no open transaction
        except Exception:
            connection.close()
            raise
        if not acquired:
            connection.close()
            return None
        return cls(connection)

    def release(self) -> None:
        # closing the session drops its advisory locks; NullPool really closes the connection (and a
        # connection a blip already cut has dropped them the same way)
        try:
            self._connection.close()
        except Exception:
            log.warning("closing the lock connection of an account failed", exc_info=True)


def _lock_engine(engine: Engine) -> Engine:
    """An engine without a pool for the lock connections, one per database URL."""
    url = engine.url.render_as_string(hide_password=False)
    with _SLOTS_LOCK:
        if url not in _LOCK_ENGINES:
            _LOCK_ENGINES[url] = create_engine(engine.url, poolclass=NullPool)
        return _LOCK_ENGINES[url]


class _FileAccountLock:
    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    @classmethod
    def try_acquire(cls, engine: Engine, account_id: str) -> _FileAccountLock | None:
        path = lock_file_for(engine.url.database or "", account_id)
        path.parent.mkdir(exist_ok=True)
        handle = path.open("a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        return cls(handle)

    def release(self) -> None:
        fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        self._handle.close()


def lock_file_for(database: str, account_id: str) -> Path:
    """`<database>.account-locks/<account>-<hash>.lock`: readable, and unique however the id is spelled."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", account_id)[:60]
    digest = hashlib.sha256(account_id.encode()).hexdigest()[:12]
    return Path(f"{database}.account-locks") / f"{readable}-{digest}.lock"


def _try_cross_process(engine: Engine, account_id: str) -> _CrossProcessLock | None:
    if engine.dialect.name == "postgresql":
        return _PostgresAccountLock.try_acquire(engine, account_id)
    if not engine.url.database or engine.url.database == ":memory:":
        return _NoLock()  # a private in-memory database: no other process can see it
    return _FileAccountLock.try_acquire(engine, account_id)


class _NoLock:
    def release(self) -> None:
        return None


@contextmanager
def account_lock(engine: Engine, account_id: str, *, wait: bool = True,
                 should_stop: Callable[[], bool] = lambda: False) -> Iterator[bool]:
    """Hold `account_id`'s execution lock for the block; yields True once held.

    With `wait` (the default) a busy lock is waited for, logging once that another process has it;
    the wait ends early, yielding False, when `should_stop` turns true. Without `wait`, a busy lock
    yields False at once (reconciliation skips an account someone is executing)."""
    slot = _slot(engine, account_id)
    if not _acquire_local(slot, wait, should_stop):
        yield False
        return
    try:
        if slot.depth == 0:
            slot.held = _acquire_cross_process(engine, account_id, wait, should_stop)
            if slot.held is None:
                yield False
                return
        slot.depth += 1
        try:
            yield True
        finally:
            slot.depth -= 1
            if slot.depth == 0 and slot.held is not None:
                slot.held.release()
                slot.held = None
    finally:
        slot.local.release()


def _acquire_local(slot: _Slot, wait: bool, should_stop: Callable[[], bool]) -> bool:
    if not wait:
        return slot.local.acquire(blocking=False)
    while not slot.local.acquire(timeout=POLL_SECONDS):
        if should_stop():
            return False
    return True


def _acquire_cross_process(engine: Engine, account_id: str, wait: bool,
                           should_stop: Callable[[], bool]) -> _CrossProcessLock | None:
    said = False
    while True:
        for attempt in attempts():  # a database blip while asking is ridden out like any unit of work
            with attempt:
                held = _try_cross_process(engine, account_id)
        if held is not None:
            if said:
                log.warning("account %s is free again: executing it now", account_id)
            return held
        if not wait or should_stop():
            return None
        if not said:
            log.warning("waiting for another process executing account %s", account_id)
            said = True
        time.sleep(POLL_SECONDS)
