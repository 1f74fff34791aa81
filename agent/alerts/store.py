"""The alerts table: what was pushed (for deduplication) and what waits for a digest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, insert, select, update

from agent.storage.models import Alert

ALERTS = Alert.__table__


def seen_since(connection: Connection, account_id: str, key: str, since: datetime) -> bool:
    """True if the same alert was raised (sent or held) since `since`."""
    query = select(Alert.id).where(Alert.account_id == account_id, Alert.key == key, Alert.created_at >= since)
    return connection.execute(query.limit(1)).first() is not None


def add_alert(connection: Connection, account_id: str, key: str, severity: str, message: str, link: str,
              now: datetime) -> int:
    result = connection.execute(insert(Alert).values(account_id=account_id, key=key, severity=severity,
                                                     message=message, link=link, created_at=now, sent_at=None))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def held(connection: Connection, account_id: str) -> list[RowMapping]:
    """The account's alerts not sent yet, oldest first."""
    query = select(ALERTS).where(Alert.account_id == account_id, Alert.sent_at.is_(None)).order_by(Alert.id)
    return list(connection.execute(query).mappings())


def last_sent(connection: Connection, account_id: str) -> datetime | None:
    query = select(Alert.sent_at).where(Alert.account_id == account_id, Alert.sent_at.is_not(None))
    return connection.execute(query.order_by(Alert.sent_at.desc()).limit(1)).scalar_one_or_none()


def mark_sent(connection: Connection, alert_ids: list[int], now: datetime) -> None:
    connection.execute(update(Alert).where(Alert.id.in_(alert_ids)).values(sent_at=now))
