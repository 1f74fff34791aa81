"""The audit trail's table: appending events, and the reads built on it.

Events are appended, never updated or deleted. `at` is the real time an event was written;
`simulated_day` is the day the agent's clock said (a simulation or replay may pretend another day).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select

from agent.storage.models import Action, AuditEvent, Cycle

HUMAN_VERDICTS = ("state:approved", "state:rejected")


def record_event(
    connection: Connection,
    *,
    at: datetime,
    event: str,
    actor: str,
    message: str,
    data: Mapping[str, Any] | None = None,
    cycle_id: int | None = None,
    action_id: int | None = None,
    account_id: str | None = None,
) -> None:
    """Append one audit event. Never updated, never deleted. `at` is the agent's clock (simulated
    under `--today`); the row keeps its day as `simulated_day` and the real time as `at`."""
    # one prepared statement with parameters: building a new INSERT ... VALUES per event cost more
    # than executing it (every proposal and state change records one)
    clock_time = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    connection.execute(_INSERT_EVENT, {"at": wall_clock(), "simulated_day": clock_time.astimezone(UTC).date(),
                                       "event": event, "actor": actor, "message": message,
                                       "data": dict(data or {}), "cycle_id": cycle_id, "action_id": action_id,
                                       "account_id": account_id})


_INSERT_EVENT = insert(AuditEvent)


def wall_clock() -> datetime:
    """The real time, for the audit trail's `at` only: an audit record says when it was written,
    whatever day a simulation or replay pretends it is. Everything else takes the clock passed in."""
    return datetime.now(UTC)


def verdict_events(connection: Connection, action_id: int) -> list[tuple[str, Any, datetime]]:
    """An action's approval and rejection events as (event, data, at), newest first."""
    query = (select(AuditEvent.event, AuditEvent.data, AuditEvent.at)
             .where(AuditEvent.action_id == action_id, AuditEvent.event.in_(HUMAN_VERDICTS))
             .order_by(AuditEvent.id.desc()))
    return [(event, data, at) for event, data, at in connection.execute(query)]


def action_events(connection: Connection, action_id: int) -> Sequence[RowMapping]:
    """Every event about one action, oldest first (its history)."""
    query = select(AuditEvent.__table__).where(AuditEvent.action_id == action_id).order_by(AuditEvent.id)
    return connection.execute(query).mappings().all()


def audit_records(connection: Connection, since: datetime | None) -> Iterator[dict[str, Any]]:
    """Audit events oldest first, each with the action it concerns (proposal, rationale, evidence).
    `at` is the real time each was written, `simulated_day` the day the agent's clock said."""
    actions = Action.__table__
    events = AuditEvent.__table__
    query = (
        select(events, actions.c.kind.label("action_kind"), actions.c.entity_id, actions.c.entity_name,
               actions.c.state.label("action_state"), actions.c.dry_run, actions.c.change, actions.c.rationale,
               actions.c.evidence)
        .select_from(events.outerjoin(actions, events.c.action_id == actions.c.id))
        .order_by(events.c.id)
    )
    if since is not None:
        query = query.where(events.c.at >= since)
    for row in connection.execute(query).mappings():
        record = dict(row)
        record["at"] = record["at"].isoformat()
        yield record


def approval_data(connection: Connection, action_id: int) -> list[Any]:
    """The data of every `state:approved` event of an action (who moved it, from which state)."""
    query = select(AuditEvent.data).where(AuditEvent.action_id == action_id, AuditEvent.event == "state:approved")
    return list(connection.execute(query).scalars())


def messages_of_last_cycle(connection: Connection, account_id: str, event: str) -> list[str]:
    """The messages of an account's `event` events in the latest finished cycle, oldest first."""
    last_cycle = select(func.max(Cycle.id)).where(Cycle.finished_at.is_not(None)).scalar_subquery()
    query = select(AuditEvent.message).where(AuditEvent.account_id == account_id, AuditEvent.event == event,
                                             AuditEvent.cycle_id == last_cycle).order_by(AuditEvent.id)
    return [str(message) for message in connection.execute(query).scalars()]
