"""Who is executing an action: claims that survive a crash, PID reuse and a reboot, and tell a dead
claimant from a busy one.

A claim is `host:pid:nonce:boot_id:start_ticks`: the machine, the process, a nonce for this
execution run, the kernel's boot id (/proc/sys/kernel/random/boot_id, new at every boot) and the
process's start time in clock ticks since boot (/proc/<pid>/stat, field 22). On the same machine a
claimant is alive only if the boot id is today's and a process with that PID exists *and* started
at that same tick: a PID reused by an unrelated process, or a claim from before a reboot or power
loss, is dead. Claims written before this format (`host:pid:nonce`) are still read: they are dead
when the PID is gone or the claim is older than the machine's boot.

From another machine we cannot look at processes: there a claim is a lease, alive while its
`claimed_at` is younger than `CLAIM_LEASE`. A claimant refreshes it (heartbeat) every third of the
lease while it works, so a long execution is never taken for a dead one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine, RowMapping, update

from agent.clock import Clock
from agent.storage.action_states import as_utc, list_actions
from agent.storage.models import Action

log = logging.getLogger(__name__)
HOST = socket.gethostname()
CLAIM_LEASE = timedelta(minutes=15)  # a claim from another machine not refreshed for this long is dead
HEARTBEAT = CLAIM_LEASE / 3
_ACTIVE_CLAIMS: set[str] = set()  # claims this process is working on right now
_ACTIVE_LOCK = threading.Lock()


@cache
def boot_id() -> str:
    """This boot of the machine ('' where the kernel does not say, e.g. not Linux)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start_ticks(pid: int) -> str:
    """When process `pid` started, in clock ticks since boot ('' if unknown or gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name (field 2) is in parentheses and may hold spaces: count fields after it
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""  # field 22 overall


@cache
def machine_boot_time() -> datetime | None:
    """When this machine booted (`btime` in /proc/stat), to judge old-format claims."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return datetime.fromtimestamp(int(line.split()[1]), UTC)
    except (OSError, ValueError):
        pass
    return None


@dataclass(frozen=True)
class Claimant:
    host: str
    pid: int | None
    nonce: str
    boot_id: str | None  # None: an old-format claim, which did not record it
    start_ticks: str | None


def parse_claim(claimed_by: str) -> Claimant:
    """Both formats: `host:pid:nonce` (old) and `host:pid:nonce:boot_id:start_ticks`."""
    parts = claimed_by.split(":")
    host = parts[0]
    pid = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    nonce = parts[2] if len(parts) > 2 else ""
    if len(parts) >= 5:
        return Claimant(host, pid, nonce, parts[3], parts[4])
    return Claimant(host, pid, nonce, None, None)


def new_claim_id() -> str:
    """Who is executing: host, process, a nonce for this run, the boot and the process's start."""
    pid = os.getpid()
    return f"{HOST}:{pid}:{uuid.uuid4().hex[:8]}:{boot_id()}:{process_start_ticks(pid)}"


def claim_is_orphaned(claimed_by: str | None, claimed_at: datetime | None, now: datetime,
                      lease: timedelta = CLAIM_LEASE) -> bool:
    """An `executing` action is orphaned when the run that claimed it can no longer finish it: on
    this machine its process is gone, was replaced by another with the same PID, or ran before the
    last boot (or is this process, which no longer works on it); on another machine its lease ran
    out."""
    if not claimed_by:
        return True
    claimant = parse_claim(claimed_by)
    if claimant.host != HOST or claimant.pid is None:
        return claimed_at is None or now - as_utc(claimed_at) > lease
    if claimant.boot_id is not None:
        if claimant.boot_id and boot_id() and claimant.boot_id != boot_id():
            return True  # claimed before the machine rebooted
    elif claimed_at is not None and (booted := machine_boot_time()) is not None and as_utc(claimed_at) < booted:
        return True  # an old-format claim from before the last boot
    if claimant.pid == os.getpid():
        with _ACTIVE_LOCK:
            return claimed_by not in _ACTIVE_CLAIMS
    if not _pid_exists(claimant.pid):
        return True
    if claimant.start_ticks:
        started = process_start_ticks(claimant.pid)
        return bool(started) and started != claimant.start_ticks  # the PID now belongs to someone else
    return False


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def active_claim(heartbeat: Callable[[str], None] | None = None) -> Iterator[str]:
    """A new claim id, registered as in progress in this process while the block runs; with
    `heartbeat`, called with the claim id every `HEARTBEAT` (refreshing the lease) until it ends."""
    claim_id = new_claim_id()
    with _ACTIVE_LOCK:
        _ACTIVE_CLAIMS.add(claim_id)
    done = threading.Event()
    beating = None
    if heartbeat is not None:
        beating = threading.Thread(target=_beat, args=(heartbeat, claim_id, done), name="claim-heartbeat",
                                   daemon=True)
        beating.start()
    try:
        yield claim_id
    finally:
        done.set()
        with _ACTIVE_LOCK:
            _ACTIVE_CLAIMS.discard(claim_id)


def _beat(heartbeat: Callable[[str], None], claim_id: str, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT.total_seconds()):
        try:
            heartbeat(claim_id)
        except Exception:  # a missed beat only shortens the lease; the next one may land
            log.warning("claim heartbeat failed", exc_info=True)


def lease_heartbeat(engine: Engine, clock: Clock) -> Callable[[str], None]:
    """A heartbeat for `active_claim`: moves the claim's `claimed_at` of its executing actions to now."""

    def beat(claim_id: str) -> None:
        with engine.begin() as connection:
            connection.execute(update(Action).where(Action.claimed_by == claim_id, Action.state == "executing")
                               .values(claimed_at=clock.now()))

    return beat


def stuck_actions(connection: Connection, now: datetime) -> list[RowMapping]:
    """Actions in `executing` whose claimant can no longer finish them (dead, replaced, rebooted, or
    past its lease): reconciliation settles them; until it has, they are stuck."""
    return [a for a in list_actions(connection, "executing")
            if claim_is_orphaned(a["claimed_by"], a["claimed_at"], now)]
