"""Surviving database blips: a bounded retry of one unit of database work on a transient error.

A unit of work is a function that only reads or writes our database (one transaction, or a step
whose platform calls are reads): on a connection lost or refused, a server restart, or SQLite's
"database is locked", it is run again from the start, for at most `RETRY_SECONDS` in all. A platform
write is never inside a retried unit: the executor retries its claim and its recording of the
platform's answer separately, never `connector.apply`, so a retry cannot send anything twice.

The engine also reconnects by itself (agent/storage/store.py): pre-ping on checkout, and once it has
connected, a new connection is retried for the same bound while the server is unreachable.
"""

from __future__ import annotations

import copy
import logging
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_exponential

from agent.errors import StaleTransition
from agent.storage.action_states import get_action, transition

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_SECONDS = 8.0  # a blip of a few seconds is ridden out; a longer outage fails the step as before
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_transient(error: BaseException) -> bool:
    """A database error that retrying the same work a moment later can cure."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sqlite3.OperationalError) or isinstance(getattr(error, "orig", None), sqlite3.Error):
        return any(text in str(error) for text in _SQLITE_BUSY)
    return isinstance(error, OperationalError | InterfaceError)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("database unreachable or busy, retrying (attempt %d): %s", state.attempt_number,
                str(error).splitlines()[0] if error else "")


def attempts() -> Iterator[Any]:
    """`for attempt in attempts(): with attempt: ...`: the block is one unit of database work."""
    return iter(Retrying(retry=retry_if_exception(is_transient), stop=stop_after_delay(RETRY_SECONDS),
                         wait=wait_exponential(multiplier=0.1, max=1.0), before_sleep=_log_retry, reraise=True))


def retry_unit(work: Callable[[], T], *, restore: object | None = None) -> T:
    """Run `work` (database work and platform reads only), again on a transient database error.
    `restore`: an object whose attributes `work` updates (a summary's counters), put back as they
    were before each new attempt so nothing is counted twice."""
    saved = copy.deepcopy(vars(restore)) if restore is not None else None
    for attempt in attempts():
        with attempt:
            if restore is not None and attempt.retry_state.attempt_number > 1:
                vars(restore).update(copy.deepcopy(saved or {}))
            return work()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def transition_retrying(engine: Engine, action_id: int, to_state: str, **kwargs: Any) -> None:
    """`transition` in its own transaction, retried on a transient error. If an earlier attempt did
    commit (its answer was lost), the action is already in `to_state`: that is success, not a race."""
    retried = False
    for attempt in attempts():
        with attempt:
            try:
                with engine.begin() as connection:
                    transition(connection, action_id, to_state, **kwargs)
            except StaleTransition:
                if retried and _state_of(engine, action_id) == to_state:
                    return
                raise
            finally:
                retried = True


def _state_of(engine: Engine, action_id: int) -> str | None:
    with engine.connect() as connection:
        action = get_action(connection, action_id)
    return None if action is None else str(action["state"])
