"""Privacy by design: erasing one person everywhere (`privacy forget`), and keeping CRM identifiers and
outcomes no longer than `privacy.retention_days` (`privacy prune`, and the start of each cycle).

The audit records of both hold counts and a random request id: never the email, the phone or their
hash, so the trail itself cannot say who asked to be forgotten.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from agent.config import AgentConfig
from agent.customers.membership import refresh_segments
from agent.outcomes.records import meta_phone_sha256, normalize_email, normalize_phone, sha256_hex
from agent.storage.audit_trail import record_event
from agent.storage.crm_segments import (
    PHONE_DIGITS,
    Erased,
    IdentifierKind,
    Pruned,
    erase_person,
    prune_before,
)

EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+$")


class NotAnIdentifier(ValueError):
    """The value given is neither an email address nor a phone number (the message never repeats it)."""


def identifier_of(raw: str) -> tuple[IdentifierKind, str]:
    """(kind, SHA-256 of the normalized value), normalized exactly as at import."""
    text = raw.strip()
    if "@" in text:
        email = normalize_email(text)
        if email is not None and EMAIL_SHAPE.match(email):
            return "email", sha256_hex(email)
        raise NotAnIdentifier("not an email address")
    phone = normalize_phone(text) if text and set(text) <= set("+0123456789 ()-./") else None
    if phone is None:
        raise NotAnIdentifier("not an email address, nor a phone number with 6 to 15 digits")
    return "phone", sha256_hex(phone)


@dataclass(frozen=True)
class Forgotten:
    request_id: str
    erased: Erased


def forget(engine: Engine, config: AgentConfig, raw: str, now: datetime, actor: str = "cli") -> Forgotten:
    """Erase the person with this email or phone from outcomes, customer lists, segment members and
    settled upload-ledger rows, mark their identifiers for removal from platform audiences at the next
    sync, and record it in the audit trail as counts and a request id. One transaction."""
    kind, sha = identifier_of(raw)
    phone = normalize_phone(raw.strip()) if kind == "phone" else None
    # a phone's Meta form is forgotten too, even when no stored record links it any more
    also = [(PHONE_DIGITS, meta_phone_sha256(phone))] if phone else []
    request_id = secrets.token_hex(8)
    with engine.begin() as connection:
        erased = erase_person(connection, kind, sha, now, also)
        refresh_segments(connection, config, now)
        record_event(connection, at=now, event="privacy_forget", actor=actor,
                     message=f"erasure request {request_id}: {erased.outcomes} outcomes, {erased.customers} "
                             f"customer-list entries, {erased.memberships} segment memberships removed",
                     data={"request_id": request_id, "kind": kind, **erased.as_dict()})
    return Forgotten(request_id, erased)


def prune(connection: Connection, config: AgentConfig, now: datetime, actor: str,
          record_nothing: bool = True) -> Pruned | None:
    """Delete what is older than `privacy.retention_days` (None: no retention set) and refresh the
    segments, in the caller's transaction. Recorded in the audit trail (counts only); with
    `record_nothing` False, only when something was deleted."""
    days = config.privacy.retention_days
    if days is None:
        return None
    pruned = prune_before(connection, now - timedelta(days=days))
    refresh_segments(connection, config, now)
    if record_nothing or any(pruned.as_dict().values()):
        record_event(connection, at=now, event="privacy_prune", actor=actor,
                     message=f"retention {days} days: {pruned.crm_records} CRM records ({pruned.outcomes} outcomes), "
                             f"{pruned.customers} customer-list entries deleted",
                     data={"retention_days": days, **pruned.as_dict()})
    return pruned


def refresh_at_cycle_start(engine: Engine, config: AgentConfig, now: datetime) -> None:
    """The cycle's first step for CRM data: prune past the retention period, and recompute every
    segment's members (a sync later in the cycle reads them)."""
    if config.privacy.retention_days is None and not config.segments:
        return
    with engine.begin() as connection:
        if prune(connection, config, now, actor="agent", record_nothing=False) is None:
            refresh_segments(connection, config, now)
