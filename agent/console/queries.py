"""Every SQL statement the console runs: the queue, the audit log, audience names."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Connection, RowMapping, or_, select

from agent.storage.action_states import ACTIONS
from agent.storage.models import Action, AudienceRecord, AuditEvent

AUDIT_PAGE = 200


def actions_where(connection: Connection, *, states: Collection[str], accounts: Collection[str],
                  kinds: Collection[str] = (), ids: Collection[int] = ()) -> list[RowMapping]:
    """Actions in `states` of `accounts` (and of `kinds`, among `ids`, when given), newest first."""
    if not accounts:
        return []
    query = (select(ACTIONS).where(Action.state.in_(sorted(states)), Action.account_id.in_(sorted(accounts)))
             .order_by(Action.id.desc()))
    if kinds:
        query = query.where(Action.kind.in_(sorted(kinds)))
    if ids:
        query = query.where(Action.id.in_(sorted(ids)))
    return list(connection.execute(query).mappings())


def audience_names(connection: Connection, accounts: Collection[str]) -> dict[str, str]:
    rows = connection.execute(select(AudienceRecord.audience_id, AudienceRecord.name)
                              .where(AudienceRecord.account_id.in_(sorted(accounts))))
    return {str(audience_id): str(name) for audience_id, name in rows}


def audit_events(connection: Connection, *, accounts: Collection[str], text: str = "",
                 include_global: bool = True, limit: int = AUDIT_PAGE) -> list[RowMapping]:
    """The newest audit events of `accounts` (and those of no account) whose event, actor or message
    contains `text` (case-insensitive)."""
    table = AuditEvent.__table__
    scope: ColumnElement[bool] = table.c.account_id.in_(sorted(accounts))
    if include_global:
        scope = or_(scope, table.c.account_id.is_(None))
    query = select(table).where(scope).order_by(table.c.id.desc()).limit(limit)
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(or_(table.c.message.ilike(pattern), table.c.event.ilike(pattern),
                                table.c.actor.ilike(pattern)))
    return list(connection.execute(query).mappings())
