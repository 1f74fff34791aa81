"""The audience ledger: what each platform audience holds, and each batch sent to it.

`audience_members`: one row per (account, audience, kind, sha256) we have added, or are adding or
removing: state `present`, `adding` or `removing`, with the batch in flight. `audience_batches`:
one row per batch, written `sending` and committed before the request, settled by the platform's
answer (`applied`, `rejected`, `not_permitted`). `audience_lookalikes`: the lookalikes seeded by a
synced audience, written `creating` before the request. A batch still `sending` had no answer (or the
process died before recording it); its members still name it, so the next sync re-sends exactly
those members under the same batch id before planning anything new. Members are SHA-256 hashes,
never clear text; a removed member's row is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from agent.storage.models import NAMING_CONVENTION
from connectors.audience_members import MemberKey

AUDIENCES_METADATA = MetaData(naming_convention=NAMING_CONVENTION)

audience_members = Table(
    "audience_members", AUDIENCES_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(128), nullable=False),
    Column("audience_id", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("batch_id", String(32), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("account_id", "audience_id", "kind", "sha256"),
    Index("ix_audience_members_batch_id", "batch_id"),
)

audience_batches = Table(
    "audience_batches", AUDIENCES_METADATA,
    Column("batch_id", String(32), primary_key=True),
    Column("account_id", String(128), nullable=False),
    Column("platform", String(64), nullable=False),
    Column("audience_id", String(64), nullable=False),
    Column("segment", String(128), nullable=False),
    Column("operation", String(8), nullable=False),
    Column("size", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("action_id", Integer, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("error", String(512), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_audience_batches_account_state", "account_id", "audience_id", "state"),
)

audience_lookalikes = Table(
    "audience_lookalikes", AUDIENCES_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(128), nullable=False),
    Column("seed_audience_id", String(64), nullable=False),
    Column("country", String(2), nullable=False),
    Column("ratio", String(8), nullable=False),
    Column("name", String(255), nullable=False),
    Column("state", String(16), nullable=False),  # creating | created | rejected
    Column("lookalike_id", String(64), nullable=True),
    Column("action_id", Integer, nullable=True),
    Column("error", String(512), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("account_id", "seed_audience_id", "country", "ratio"),
)

# The id a platform targets or excludes a synced audience by, where it is not the audience's own:
# a LinkedIn DMP segment is used through its ad segment (urn:li:adSegment:N), which the sync reads.
audience_destinations = Table(
    "audience_destinations", AUDIENCES_METADATA,
    Column("account_id", String(128), primary_key=True),
    Column("audience_id", String(64), primary_key=True),
    Column("destination_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

SETTLED = ("applied", "rejected", "not_permitted")


def member_states(connection: Connection, account_id: str, audience_id: str) -> dict[MemberKey, str]:
    """(kind, sha256) -> present | adding | removing, for one audience."""
    rows = connection.execute(select(audience_members.c.kind, audience_members.c.sha256, audience_members.c.state)
                              .where(audience_members.c.account_id == account_id,
                                     audience_members.c.audience_id == audience_id))
    return {(row.kind, row.sha256): row.state for row in rows}


def pending_batches(connection: Connection, account_id: str, audience_id: str) -> list[RowMapping]:
    """Batches sent (or about to be) whose answer was never recorded, oldest first."""
    return list(connection.execute(select(audience_batches).where(
        audience_batches.c.account_id == account_id, audience_batches.c.audience_id == audience_id,
        audience_batches.c.state == "sending").order_by(audience_batches.c.created_at,
                                                        audience_batches.c.batch_id)).mappings())


def batch_members(connection: Connection, batch_id: str) -> list[MemberKey]:
    rows = connection.execute(select(audience_members.c.kind, audience_members.c.sha256)
                              .where(audience_members.c.batch_id == batch_id)
                              .order_by(audience_members.c.kind, audience_members.c.sha256))
    return [(row.kind, row.sha256) for row in rows]


def open_batch(connection: Connection, *, batch_id: str, account_id: str, platform: str, audience_id: str,
               segment: str, operation: str, members: Sequence[MemberKey], action_id: int | None,
               now: datetime) -> None:
    """Record the intent before the request: the batch `sending`, its members `adding` (new rows) or
    `removing` (rows present until now), each naming the batch."""
    connection.execute(insert(audience_batches).values(
        batch_id=batch_id, account_id=account_id, platform=platform, audience_id=audience_id, segment=segment,
        operation=operation, size=len(members), state="sending", action_id=action_id, attempts=1, created_at=now,
        updated_at=now))
    if operation == "add":
        connection.execute(insert(audience_members), [
            {"account_id": account_id, "audience_id": audience_id, "kind": kind, "sha256": sha256,
             "state": "adding", "batch_id": batch_id, "updated_at": now} for kind, sha256 in members])
        return
    if members:  # one executemany, not a statement per member
        connection.execute(update(audience_members).where(
            audience_members.c.account_id == account_id, audience_members.c.audience_id == audience_id,
            audience_members.c.kind == bindparam("member_kind"), audience_members.c.sha256 == bindparam("member_hash"),
            audience_members.c.state == "present").values(state="removing", batch_id=batch_id, updated_at=now),
            [{"member_kind": kind, "member_hash": sha256} for kind, sha256 in members])


def resending(connection: Connection, batch_id: str, action_id: int | None, now: datetime) -> None:
    connection.execute(update(audience_batches).where(audience_batches.c.batch_id == batch_id).values(
        attempts=audience_batches.c.attempts + 1, action_id=action_id, updated_at=now))


def release(connection: Connection, batch_id: str, keys: Iterable[MemberKey], now: datetime) -> None:
    """Members of an unanswered add batch that are no longer wanted (consent withdrawn, forgotten):
    they may have landed, so they count as present and the next removal takes them out."""
    rows = [{"member_kind": kind, "member_hash": sha256} for kind, sha256 in keys]
    if rows:
        connection.execute(update(audience_members).where(
            audience_members.c.batch_id == batch_id, audience_members.c.kind == bindparam("member_kind"),
            audience_members.c.sha256 == bindparam("member_hash")).values(state="present", batch_id=None,
                                                                           updated_at=now), rows)


def settle_batch(connection: Connection, batch_id: str, outcome: str, now: datetime, error: str | None = None
                 ) -> None:
    """Record the platform's answer: an applied add makes its members present, an applied removal
    deletes their rows; a refused batch leaves the audience as it was before the batch."""
    batch = connection.execute(select(audience_batches).where(
        audience_batches.c.batch_id == batch_id, audience_batches.c.state == "sending")).mappings().first()
    if batch is None:
        return
    mine = audience_members.c.batch_id == batch_id
    if batch["operation"] == "add" and outcome == "applied":
        connection.execute(update(audience_members).where(mine).values(state="present", batch_id=None,
                                                                       updated_at=now))
    elif batch["operation"] == "add":
        connection.execute(delete(audience_members).where(and_(mine, audience_members.c.state == "adding")))
    elif outcome == "applied":
        connection.execute(delete(audience_members).where(mine))
    else:
        connection.execute(update(audience_members).where(mine).values(state="present", batch_id=None,
                                                                       updated_at=now))
    connection.execute(update(audience_batches).where(audience_batches.c.batch_id == batch_id).values(
        state=outcome, error=(error or "")[:512] or None, updated_at=now))


def audience_summary(connection: Connection, account_id: str) -> list[dict[str, object]]:
    """Per audience: members held, batches awaiting an answer, and the last refusal, if any."""
    held: dict[str, int] = {str(row[0]): int(row[1]) for row in connection.execute(
        select(audience_members.c.audience_id, func.count()).where(
            audience_members.c.account_id == account_id, audience_members.c.state != "adding")
        .group_by(audience_members.c.audience_id))}
    batches = connection.execute(select(audience_batches).where(audience_batches.c.account_id == account_id)
                                 .order_by(audience_batches.c.updated_at)).mappings().all()
    summary: dict[str, dict[str, object]] = {}
    for batch in batches:
        entry = summary.setdefault(batch["audience_id"], {"audience_id": batch["audience_id"],
                                                          "segment": batch["segment"], "pending": 0,
                                                          "last_state": None, "last_error": None})
        entry["pending"] = int(str(entry["pending"])) + (batch["state"] == "sending")
        entry["last_state"], entry["last_error"] = batch["state"], batch["error"]
    for audience_id, count in held.items():
        summary.setdefault(audience_id, {"audience_id": audience_id, "segment": None, "pending": 0,
                                         "last_state": None, "last_error": None})["members"] = count
    return [{"members": 0, **entry} for entry in summary.values()]


def lookalike_of(connection: Connection, account_id: str, seed_audience_id: str, country: str, ratio: str
                 ) -> RowMapping | None:
    return connection.execute(select(audience_lookalikes).where(
        audience_lookalikes.c.account_id == account_id, audience_lookalikes.c.seed_audience_id == seed_audience_id,
        audience_lookalikes.c.country == country, audience_lookalikes.c.ratio == ratio)).mappings().first()


def start_lookalike(connection: Connection, *, account_id: str, seed_audience_id: str, country: str, ratio: str,
                    name: str, action_id: int | None, now: datetime) -> None:
    """Record the intent (`creating`) before the request; a refused earlier attempt is tried again."""
    if lookalike_of(connection, account_id, seed_audience_id, country, ratio) is None:
        connection.execute(insert(audience_lookalikes).values(
            account_id=account_id, seed_audience_id=seed_audience_id, country=country, ratio=ratio, name=name,
            state="creating", action_id=action_id, updated_at=now))
        return
    connection.execute(update(audience_lookalikes).where(
        audience_lookalikes.c.account_id == account_id, audience_lookalikes.c.seed_audience_id == seed_audience_id,
        audience_lookalikes.c.country == country, audience_lookalikes.c.ratio == ratio,
        audience_lookalikes.c.state != "created").values(state="creating", action_id=action_id, error=None,
                                                          updated_at=now))


def settle_lookalike(connection: Connection, row_id: int, state: str, lookalike_id: str | None, error: str | None,
                     now: datetime) -> None:
    connection.execute(update(audience_lookalikes).where(audience_lookalikes.c.id == row_id).values(
        state=state, lookalike_id=lookalike_id, error=(error or "")[:512] or None, updated_at=now))


def held_count(connection: Connection, account_id: str, audience_id: str) -> int:
    """Members the audience surely holds (not those still being added)."""
    return int(connection.execute(select(func.count()).select_from(audience_members).where(
        audience_members.c.account_id == account_id, audience_members.c.audience_id == audience_id,
        audience_members.c.state != "adding")).scalar_one())


def lookalikes_of(connection: Connection, account_id: str) -> list[RowMapping]:
    return list(connection.execute(select(audience_lookalikes).where(audience_lookalikes.c.account_id == account_id)
                                   .order_by(audience_lookalikes.c.id)).mappings())


def record_destination(connection: Connection, account_id: str, audience_id: str, destination_id: str,
                       now: datetime) -> None:
    """The id the platform uses the audience by (kept current: the last one the sync saw)."""
    key = and_(audience_destinations.c.account_id == account_id, audience_destinations.c.audience_id == audience_id)
    if connection.execute(update(audience_destinations).where(key).values(
            destination_id=destination_id, updated_at=now)).rowcount == 0:
        connection.execute(insert(audience_destinations).values(
            account_id=account_id, audience_id=audience_id, destination_id=destination_id, updated_at=now))


def destination_of(connection: Connection, account_id: str, audience_id: str) -> str | None:
    """The id recorded by `record_destination`, or None when the sync has not seen one."""
    return connection.execute(select(audience_destinations.c.destination_id).where(
        audience_destinations.c.account_id == account_id,
        audience_destinations.c.audience_id == audience_id)).scalar_one_or_none()
