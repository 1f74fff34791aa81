"""SQLite takes one writer at a time and fails one that waits past its busy timeout. A cold pull of a
large account holds the write lock for long while a dozen more accounts wait: their pulls' writes
queue in the process (`store.one_writer`) instead of failing with "database is locked"."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from agent.storage import db, store
from connectors.records import AccountInfo

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def account(account_id: str) -> AccountInfo:
    return AccountInfo("meta", account_id, f"Account {account_id}", "EUR", "Europe/Berlin")


def test_a_pull_that_waits_longer_than_sqlites_busy_timeout_still_writes(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "SQLITE_BUSY_SECONDS", 0.3)
    engine = store.make_engine(f"sqlite:///{tmp_path / 'agent.db'}")
    db.upgrade(engine)
    writing = threading.Event()

    def long_pull_write(account_id: str) -> None:  # holds the write lock for three busy timeouts
        with store.one_writer(engine), engine.begin() as connection:
            store.upsert_account(connection, account(account_id), NOW)
            writing.set()
            time.sleep(1.0)

    first = threading.Thread(target=long_pull_write, args=("first",))
    first.start()
    writing.wait()
    with store.one_writer(engine), engine.begin() as connection:  # queued behind it, not failed
        store.upsert_account(connection, account("second"), NOW)
    first.join()
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT account_id FROM accounts")).scalars()
        assert set(stored) == {"first", "second"}

    writing.clear()
    again = threading.Thread(target=long_pull_write, args=("third",))
    again.start()
    writing.wait()
    with pytest.raises(exc.OperationalError, match="database is locked"), engine.begin() as connection:
        store.upsert_account(connection, account("fourth"), NOW)  # SQLite's own queue gives up
    again.join()
    engine.dispose()
