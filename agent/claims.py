"""Who is executing an action: claims that survive a crash and tell a dead claimant from a busy one.

A claim is `host:pid:nonce`. An `executing` action whose claimant can no longer finish it is
orphaned and settled by reconciliation; one a live process is working on is left alone.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from agent.actions import as_utc

HOST = socket.gethostname()
CLAIM_LEASE = timedelta(minutes=15)  # a claim from another machine older than this is presumed dead
_ACTIVE_CLAIMS: set[str] = set()  # claims this process is working on right now
_ACTIVE_LOCK = threading.Lock()


def new_claim_id() -> str:
    """Who is executing: host, process and a nonce for this execution run."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_is_orphaned(claimed_by: str | None, claimed_at: datetime | None, now: datetime) -> bool:
    """An `executing` action is orphaned when the run that claimed it can no longer finish it: its
    process on this machine is gone (or is this process, which no longer works on it), or it was
    claimed on another machine longer ago than the lease."""
    if not claimed_by:
        return True
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.partition(":")[0]
    if host == HOST and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            with _ACTIVE_LOCK:
                return claimed_by not in _ACTIVE_CLAIMS
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return claimed_at is None or now - as_utc(claimed_at) > CLAIM_LEASE


@contextmanager
def active_claim() -> Iterator[str]:
    """A new claim id, registered as in progress in this process while the block runs."""
    claim_id = new_claim_id()
    with _ACTIVE_LOCK:
        _ACTIVE_CLAIMS.add(claim_id)
    try:
        yield claim_id
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE_CLAIMS.discard(claim_id)
