"""The cycles table: one row per cycle, opened `running` and closed with its status and summary."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from agent.storage.models import Cycle

SUCCESSFUL = ("ok", "degraded")


def start_cycle(connection: Connection, now: datetime, dry_run: bool, runner: str | None = None) -> int:
    """A new `running` cycle row; `runner` (a claim id) tells recovery whether its process still lives."""
    result = connection.execute(
        insert(Cycle).values(started_at=now, dry_run=dry_run, status="running",
                             summary={"runner": runner} if runner else {})
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def finish_cycle(connection: Connection, cycle_id: int, now: datetime, status: str, summary: Mapping[str, Any]) -> None:
    connection.execute(
        update(Cycle)
        .where(Cycle.id == cycle_id)
        .values(finished_at=now, status=status, summary=dict(summary))
    )


def last_success_finished(connection: Connection) -> datetime | None:
    """When the newest successful (ok or degraded) cycle finished, as stored."""
    return connection.execute(select(func.max(Cycle.finished_at)).where(Cycle.status.in_(SUCCESSFUL))).scalar()


def last_cycle_started(connection: Connection) -> datetime | None:
    """When the newest cycle of any status started, as stored."""
    return connection.execute(select(func.max(Cycle.started_at))).scalar_one_or_none()


def running_cycles(connection: Connection) -> list[Row[Any]]:
    """The cycles still marked `running`: (id, started_at, summary)."""
    return list(connection.execute(select(Cycle.id, Cycle.started_at, Cycle.summary).where(Cycle.status == "running")))


def close_crashed(connection: Connection, cycle_id: int, now: datetime, summary: Mapping[str, Any]) -> bool:
    """Mark a cycle `crashed` if it is still `running`; False if it finished meanwhile."""
    closed = connection.execute(
        update(Cycle).where(Cycle.id == cycle_id, Cycle.status == "running")
        .values(status="crashed", finished_at=now, summary=dict(summary))
    ).rowcount
    return bool(closed)


def last_cycle_status(connection: Connection) -> str | None:
    """The status of the newest cycle, if any."""
    return connection.execute(select(Cycle.status).order_by(Cycle.id.desc()).limit(1)).scalar_one_or_none()
