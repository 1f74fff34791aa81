"""What the approval channels must remember: Slack message timestamps, email tokens, processed replies.

These tables live in their own MetaData until they join the Alembic migrations; `create_tables`
makes them (idempotently) for tests and for a database migrated before they existed. Tokens are
stored only as SHA-256 hashes: a leaked database does not let anyone answer an open request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from agent.storage.models import NAMING_CONVENTION, Action

APPROVALS_METADATA = MetaData(naming_convention=NAMING_CONVENTION)

SLACK_MESSAGES = Table(
    "approval_slack_messages", APPROVALS_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action_id", Integer, ForeignKey(Action.id), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("ts", String(32), nullable=False),  # Slack's id of the message, needed by chat.update
    Column("digest", Boolean, nullable=False, default=False),
    Column("rendered_state", String(24), nullable=False),  # the action state the message shows
    Column("posted_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("action_id", "channel_id"),
    Index("ix_approval_slack_messages_message", "channel_id", "ts"),
)

EMAIL_REQUESTS = Table(
    "approval_email_requests", APPROVALS_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action_id", Integer, ForeignKey(Action.id), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("message_id", String(255), nullable=False),  # ours, for In-Reply-To threading
    Column("subject", Text, nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_approval_email_requests_action", "action_id"),
)

EMAIL_REPLIES = Table(
    "approval_email_replies", APPROVALS_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mailbox", String(255), nullable=False),
    Column("uid_validity", BigInteger, nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("message_id", String(512), nullable=True, unique=True),
    Column("sender", String(320), nullable=False),
    Column("action_id", Integer, ForeignKey(Action.id), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("mailbox", "uid_validity", "uid"),
)


def create_tables(engine: Engine) -> None:
    """Create the approval tables if they are missing (until they are part of the migrations)."""
    APPROVALS_METADATA.create_all(engine, checkfirst=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- Slack -------------------------------------------------------------------------------------

def record_slack_message(connection: Connection, *, action_id: int, account_id: str, channel_id: str, ts: str,
                         digest: bool, state: str, now: datetime) -> None:
    connection.execute(SLACK_MESSAGES.insert().values(
        action_id=action_id, account_id=account_id, channel_id=channel_id, ts=ts, digest=digest,
        rendered_state=state, posted_at=now, updated_at=now))


def slack_posted_action_ids(connection: Connection, action_ids: Sequence[int]) -> set[int]:
    if not action_ids:
        return set()
    query = select(SLACK_MESSAGES.c.action_id).where(SLACK_MESSAGES.c.action_id.in_(list(action_ids)))
    return set(connection.execute(query).scalars())


def slack_message_of(connection: Connection, action_id: int) -> RowMapping | None:
    query = select(SLACK_MESSAGES).where(SLACK_MESSAGES.c.action_id == action_id).order_by(SLACK_MESSAGES.c.id)
    return connection.execute(query).mappings().first()


def slack_message_rows(connection: Connection, channel_id: str, ts: str) -> list[RowMapping]:
    """Every action shown in one Slack message (one, or several for a digest)."""
    query = (select(SLACK_MESSAGES).where(SLACK_MESSAGES.c.channel_id == channel_id, SLACK_MESSAGES.c.ts == ts)
             .order_by(SLACK_MESSAGES.c.action_id))
    return list(connection.execute(query).mappings())


def mark_slack_rendered(connection: Connection, channel_id: str, ts: str, states: dict[int, str],
                        now: datetime) -> None:
    for action_id, state in states.items():
        connection.execute(update(SLACK_MESSAGES).where(
            SLACK_MESSAGES.c.channel_id == channel_id, SLACK_MESSAGES.c.ts == ts,
            SLACK_MESSAGES.c.action_id == action_id).values(rendered_state=state, updated_at=now))


def outdated_slack_messages(connection: Connection) -> list[tuple[str, str]]:
    """(channel, ts) of messages showing a state their action has left (decided elsewhere, expired...)."""
    query = (select(SLACK_MESSAGES.c.channel_id, SLACK_MESSAGES.c.ts).distinct()
             .join(Action.__table__, Action.__table__.c.id == SLACK_MESSAGES.c.action_id)
             .where(Action.__table__.c.state != SLACK_MESSAGES.c.rendered_state))
    return [(row.channel_id, row.ts) for row in connection.execute(query)]


# --- Email requests ----------------------------------------------------------------------------

def record_email_request(connection: Connection, *, action_id: int, account_id: str, token: str, message_id: str,
                         subject: str, recipients: Sequence[str], now: datetime, expires_at: datetime) -> None:
    connection.execute(EMAIL_REQUESTS.insert().values(
        action_id=action_id, account_id=account_id, token_hash=token_hash(token), message_id=message_id,
        subject=subject, recipients=list(recipients), sent_at=now, expires_at=expires_at, used_at=None))


def emailed_action_ids(connection: Connection, action_ids: Sequence[int]) -> set[int]:
    if not action_ids:
        return set()
    query = select(EMAIL_REQUESTS.c.action_id).where(EMAIL_REQUESTS.c.action_id.in_(list(action_ids)))
    return set(connection.execute(query).scalars())


def email_request_for_token(connection: Connection, token: str) -> RowMapping | None:
    query = select(EMAIL_REQUESTS).where(EMAIL_REQUESTS.c.token_hash == token_hash(token))
    return connection.execute(query).mappings().one_or_none()


def spend_email_request(connection: Connection, request_id: int, now: datetime) -> bool:
    """Mark a request's token as used; False if it was spent already (by this or a racing reply).

    A token decides once: after its first decision it cannot decide again, not even to reject an
    approved action that has not executed yet (a person can still do that from the CLI or Slack)."""
    spent = connection.execute(update(EMAIL_REQUESTS).where(EMAIL_REQUESTS.c.id == request_id,
                                                            EMAIL_REQUESTS.c.used_at.is_(None)).values(used_at=now))
    return spent.rowcount == 1


# --- Processed replies -------------------------------------------------------------------------

def claim_reply(engine: Engine, *, mailbox: str, uid_validity: int, uid: int, message_id: str | None,
                sender: str, now: datetime) -> int | None:
    """Record that a reply is being processed; None if it was (or is being) processed already.

    The unique constraints make this the one place where two pollers racing on the same mailbox, or
    the same message delivered twice, are told apart: the loser gets None and does nothing.
    """
    try:
        with engine.begin() as connection:
            result = connection.execute(EMAIL_REPLIES.insert().values(
                mailbox=mailbox, uid_validity=uid_validity, uid=uid, message_id=message_id, sender=sender[:320],
                action_id=None, outcome="processing", detail="", processed_at=now))
            return int(result.inserted_primary_key[0])  # type: ignore[index]
    except IntegrityError:
        return None


def finish_reply(engine: Engine, reply_id: int, *, outcome: str, detail: str, action_id: int | None) -> None:
    with engine.begin() as connection:
        connection.execute(update(EMAIL_REPLIES).where(EMAIL_REPLIES.c.id == reply_id).values(
            outcome=outcome[:32], detail=detail, action_id=action_id))


def processed_uids(connection: Connection, mailbox: str, uid_validity: int) -> set[int]:
    query = select(EMAIL_REPLIES.c.uid).where(EMAIL_REPLIES.c.mailbox == mailbox,
                                              EMAIL_REPLIES.c.uid_validity == uid_validity)
    return set(connection.execute(query).scalars())


def reply_rows(connection: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in connection.execute(select(EMAIL_REPLIES).order_by(EMAIL_REPLIES.c.id)).mappings()]
