"""Annotations people add to an account's days, and the known changes the anomaly detector reads.

A known change is a change whose effect on delivery is expected: one of the agent's own executed
actions (a pause explains a spend drop after it) or an annotation (`paid-media-agent annotate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, RowMapping, insert, select

from agent.storage.action_queries import APPLIED_STATES
from agent.storage.audit_trail import record_event
from agent.storage.models import Action, Annotation
from policies.base import KnownChange

ANNOTATIONS = Annotation.__table__


def add_annotation(connection: Connection, account_id: str, start: date, end: date, note: str, *,
                   by: str, now: datetime) -> int:
    """Record a person's note on `start`..`end` (the account's days), with its audit event."""
    result = connection.execute(insert(Annotation).values(account_id=account_id, start_day=start, end_day=end,
                                                          note=note, created_by=by, created_at=now))
    annotation_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    record_event(connection, at=now, event="annotation", actor=by, message=f"{start}..{end}: {note}",
                 data={"annotation_id": annotation_id, "from": start.isoformat(), "to": end.isoformat()},
                 account_id=account_id)
    return annotation_id


def list_annotations(connection: Connection, account_id: str | None = None) -> list[RowMapping]:
    query = select(ANNOTATIONS).order_by(Annotation.start_day, Annotation.id)
    if account_id is not None:
        query = query.where(Annotation.account_id == account_id)
    return list(connection.execute(query).mappings())


def _direction(kind: str, change: Any) -> str | None:
    if kind in ("pause", "add_negative_keywords", "exclude_audience"):
        return "down"
    if kind == "enable":
        return "up"
    if kind == "set_budget":
        try:
            before, after = (Decimal(str(change[side]["daily_budget"])) for side in ("from", "to"))
        except (KeyError, TypeError, InvalidOperation):
            return None
        return "up" if after > before else "down"
    return None


def known_changes(connection: Connection, account_id: str, timezone: str, since: datetime,
                  first_day: date) -> list[KnownChange]:
    """The agent's changes executed since `since` and the annotations ending on or after `first_day`."""
    zone = ZoneInfo(timezone)
    query = select(Action.entity_id, Action.entity_name, Action.kind, Action.change, Action.updated_at).where(
        Action.account_id == account_id, Action.state.in_(APPLIED_STATES), Action.updated_at >= since,
        Action.dry_run.is_(False)).order_by(Action.updated_at)
    changes: list[KnownChange] = []
    for entity_id, name, kind, change, at in connection.execute(query):
        if kind == "new_ad":
            continue  # created paused: nothing delivers differently
        moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        changes.append(KnownChange(start=moment.astimezone(zone).date(), source="agent", entity_id=entity_id,
                                   direction=_direction(kind, change),
                                   description=f"our own {kind} of {name} on {moment.astimezone(zone).date()}"))
    changes += [KnownChange(start=row["start_day"], end=row["end_day"], source="annotation",
                            description=f"annotated by {row['created_by']}: {row['note']}")
                for row in _annotations_since(connection, account_id, first_day)]
    return changes


def _annotations_since(connection: Connection, account_id: str, first_day: date) -> Sequence[RowMapping]:
    query = select(ANNOTATIONS).where(Annotation.account_id == account_id, Annotation.end_day >= first_day)
    return list(connection.execute(query).mappings())
