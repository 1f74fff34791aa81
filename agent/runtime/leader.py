"""Leader election: exactly one `serve` process runs the scheduled jobs.

On PostgreSQL the leader holds a session-level advisory lock on a dedicated connection; if the
process dies, the server drops the lock with the connection and a standby takes over at its next
poll. On SQLite (one machine by nature) an exclusive file lock beside the database does the same.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x504D41_5343  # "PMA" + "SC": one number shared by every agent process


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def release(self) -> None: ...


class PostgresLeaderLock:
    """`pg_try_advisory_lock` on a connection kept open for as long as we lead."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.still_held()
        connection = self._engine.connect()
        try:
            acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                               {"key": ADVISORY_LOCK_KEY}).scalar_one())
            connection.commit()
        except Exception:
            connection.close()
            raise
        if acquired:
            self._connection = connection
        else:
            connection.close()
        return acquired

    def still_held(self) -> bool:
        """The lock lives as long as its connection: check the connection is still alive."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except Exception:
            log.warning("leader connection lost; giving up leadership")
            self._connection = None
            return False

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
            self._connection.commit()
        finally:
            self._connection.close()
            self._connection = None


class FileLeaderLock:
    """An exclusive `flock` on `<database>.leader`: processes on one machine sharing a SQLite file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: IO[str] | None = None

    def try_acquire(self) -> bool:
        if self._handle is not None:
            return True
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def still_held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def leader_lock_for(engine: Engine) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return PostgresLeaderLock(engine)
    database = engine.url.database or "paid_media_agent.db"
    return FileLeaderLock(Path(f"{database}.leader"))
