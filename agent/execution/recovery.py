"""Recovery on start: settle what a crash left in `executing`, then close the cycles it left `running`.

Every cycle row records its runner (a claim id, agent/storage/claims.py) when it starts. A `running` row
whose runner is dead, was replaced by another process with the same PID, ran before the last
boot, or (on another machine) started longer ago than `CYCLE_LEASE` is closed as `crashed`, with
what this recovery's reconciliation settled. Rows from before runners were recorded are closed
when they started before this machine's boot or longer ago than the lease.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AgentConfig
from agent.execution.executor import ExecutionReport
from agent.execution.reconcile import reconcile
from agent.storage import audit_trail, cycle_records
from agent.storage.action_states import as_utc
from agent.storage.claims import claim_is_orphaned, machine_boot_time
from connectors.base import Connector

log = logging.getLogger(__name__)
# cycles have no heartbeat: one on another machine older than this is presumed dead. A wrong guess
# is harmless: the live cycle's own finish overwrites `crashed` with its real status.
CYCLE_LEASE = timedelta(hours=6)


def recover(engine: Engine, connectors: Mapping[str, Connector], config: AgentConfig, clock: Clock) -> ExecutionReport:
    """Reconcile interrupted actions, then close the cycles a crash left `running`."""
    report = reconcile(engine, connectors, config, clock)
    close_crashed_cycles(engine, clock.now(), report.outcomes)
    return report


def cycle_is_dead(summary: Mapping[str, object] | None, started_at: datetime, now: datetime) -> bool:
    runner = (summary or {}).get("runner")
    if isinstance(runner, str) and runner:
        return claim_is_orphaned(runner, started_at, now, lease=CYCLE_LEASE)
    booted = machine_boot_time()
    return now - as_utc(started_at) > CYCLE_LEASE or (booted is not None and as_utc(started_at) < booted)


def close_crashed_cycles(engine: Engine, now: datetime, settled: Mapping[str, int]) -> list[int]:
    """Mark `running` cycles whose runner is gone as `crashed`; returns their ids."""
    with engine.connect() as connection:
        running = cycle_records.running_cycles(connection)
    dead = [row for row in running if cycle_is_dead(row.summary, row.started_at, now)]
    outcome = {k: v for k, v in settled.items() if v}
    for row in dead:
        summary = {**(row.summary or {}), "crashed": {"closed_at": now.isoformat(), "settled_on_recovery": outcome}}
        with engine.begin() as connection:
            if cycle_records.close_crashed(connection, row.id, now, summary):
                audit_trail.record_event(connection, at=now, event="cycle", actor="recovery",
                                         message=f"cycle {row.id} crashed; closed on recovery", cycle_id=row.id,
                                         data={"settled_on_recovery": outcome})
    if dead:
        log.warning("cycles.crashed_closed", extra={"cycles": [row.id for row in dead], "settled": outcome})
    return [row.id for row in dead]


def last_cycle_cut_short(engine: Engine) -> bool:
    """Whether the newest cycle ended `crashed` or `interrupted`: a new leader runs one at once
    rather than leaving its work to the next scheduled run."""
    with engine.connect() as connection:
        status = cycle_records.last_cycle_status(connection)
    return status in ("crashed", "interrupted")
