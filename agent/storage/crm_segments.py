"""CRM segments' tables: customer-list entries, each segment's members (hashed identifiers with their
marketing consent), and the people asked to be forgotten.

Personal data is stored only as the SHA-256 of its normalized value (agent/outcomes/records.py).
`members` is what other code reads (an audience sync); `forgotten` tells that sync whom to remove
from platform audiences even though they are gone from every table here.

Tables (migration `0014_crmseg`):
- `crm_customers`: one row per (list, customer id), upserted by `segments import`;
- `crm_segments`: one row per configured segment: its kind, size and when its members were computed;
- `crm_segment_members`: (segment, kind, sha256) with the member's consent, replaced at each refresh;
- `crm_forgotten`: (kind, sha256) of identifiers erased by `privacy forget`, until a sync clears them;
- `crm_phone_forms` (migration `0018_prospect`): a phone's hash -> the hash of its digits without the
  `+`, the form Meta matches; written at import, erased with the person and pruned with the records.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    UniqueConstraint,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from agent.outcomes.models import Attribution, ConversionUpload, Outcome
from agent.outcomes.store import UpsertCounts
from agent.storage.action_states import as_utc
from agent.storage.models import MONEY, NAMING_CONVENTION

IdentifierKind = Literal["email", "phone", "phonedig"]
# A phone hashed as Meta matches it (its digits, no `+`): derived from `phone` members at sync time
# through `crm_phone_forms`, never a column of its own.
PHONE_DIGITS: IdentifierKind = "phonedig"
CRM_METADATA = MetaData(naming_convention=NAMING_CONVENTION)
CHUNK = 500
# upload-ledger rows that are settled: no action will touch them again, so they may go
SETTLED_UPLOADS = ("uploaded", "rejected", "skipped", "retracted", "not_retractable")

crm_customers = Table(
    "crm_customers", CRM_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("list_name", String(64), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("email_sha256", String(64)),
    Column("phone_sha256", String(64)),
    Column("amount", MONEY),
    Column("currency", String(3)),
    Column("last_purchase_at", DateTime(timezone=True)),
    Column("customer_since", DateTime(timezone=True)),
    Column("marketing_consent", Boolean),
    Column("fields", JSON, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("source", String(255), nullable=False),
    UniqueConstraint("list_name", "customer_id"),
    Index("ix_crm_customers_email_sha256", "email_sha256"),
    Index("ix_crm_customers_phone_sha256", "phone_sha256"),
)

crm_segments = Table(
    "crm_segments", CRM_METADATA,
    Column("name", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("consented", Integer, nullable=False),
    Column("refreshed_at", DateTime(timezone=True), nullable=False),
)

crm_segment_members = Table(
    "crm_segment_members", CRM_METADATA,
    Column("segment", String(64), ForeignKey("crm_segments.name", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("consent", Boolean, nullable=False),
    Index("ix_crm_segment_members_sha256", "sha256"),
)

crm_phone_forms = Table(  # a phone's hash (E.164, with `+`) -> its hash in Meta's form (digits only)
    "crm_phone_forms", CRM_METADATA,
    Column("phone_sha256", String(64), primary_key=True),
    Column("digits_sha256", String(64), nullable=False),
)

crm_forgotten = Table(
    "crm_forgotten", CRM_METADATA,
    Column("kind", String(8), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("forgotten_at", DateTime(timezone=True), nullable=False),
)

OUTCOMES: Table = Outcome.__table__  # type: ignore[assignment]
UPLOADS: Table = ConversionUpload.__table__  # type: ignore[assignment]


class SegmentNotComputed(LookupError):
    """The segment's members were never computed (not configured, or no refresh since it was added)."""


@dataclass(frozen=True)
class Member:
    """One member of a CRM segment: a hashed email or phone and whether the person consented to marketing."""

    kind: IdentifierKind
    sha256: str
    consent: bool


@dataclass(frozen=True)
class CustomerRecord:
    """One customer-list entry, personal data already hashed."""

    customer_id: str
    email_sha256: str | None = None
    phone_sha256: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    last_purchase_at: datetime | None = None
    phone_digits_sha256: str | None = None  # the phone in Meta's form (crm_phone_forms), not a column
    customer_since: datetime | None = None
    marketing_consent: bool | None = None
    fields: tuple[tuple[str, str], ...] = ()

    def values(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "email_sha256": self.email_sha256,
                "phone_sha256": self.phone_sha256, "amount": self.amount, "currency": self.currency,
                "last_purchase_at": self.last_purchase_at, "customer_since": self.customer_since,
                "marketing_consent": self.marketing_consent, "fields": dict(self.fields)}


@dataclass(frozen=True)
class SegmentSize:
    name: str
    kind: str
    size: int
    consented: int
    refreshed_at: datetime


def _same(row: RowMapping, values: dict[str, Any]) -> bool:
    for name, new in values.items():
        stored = row[name]
        if isinstance(stored, datetime):
            stored = as_utc(stored)
        if stored != new:
            return False
    return True


def upsert_customers(connection: Connection, list_name: str, records: Iterable[CustomerRecord], source: str,
                     now: datetime) -> UpsertCounts:
    """Insert new (list, customer id) entries, update changed ones, and mark every entry in the file as
    seen now (retention counts from the last import that listed it). Within one batch the last wins."""
    latest = {record.customer_id: record for record in records}
    ids = sorted(latest)
    existing: dict[str, RowMapping] = {}
    for start in range(0, len(ids), CHUNK):
        query = select(crm_customers).where(crm_customers.c.list_name == list_name,
                                            crm_customers.c.customer_id.in_(ids[start:start + CHUNK]))
        existing.update({row["customer_id"]: row for row in connection.execute(query).mappings()})
    counts = UpsertCounts()
    new_rows = []
    unchanged: list[int] = []
    for customer_id, record in latest.items():
        row = existing.get(customer_id)
        values = record.values()
        if row is None:
            new_rows.append({**values, "list_name": list_name, "imported_at": now, "last_seen_at": now,
                             "source": source})
        elif _same(row, values):
            unchanged.append(int(row["id"]))
        else:
            connection.execute(update(crm_customers).where(crm_customers.c.id == row["id"])
                               .values(**values, imported_at=now, last_seen_at=now, source=source))
            counts.updated += 1
    for start in range(0, len(unchanged), CHUNK):
        connection.execute(update(crm_customers).where(crm_customers.c.id.in_(unchanged[start:start + CHUNK]))
                           .values(last_seen_at=now))
    if new_rows:
        connection.execute(insert(crm_customers), new_rows)
    remember_phone_forms(connection, ((r.phone_sha256, r.phone_digits_sha256) for r in latest.values()))
    counts.inserted, counts.unchanged = len(new_rows), len(unchanged)
    return counts


def customer_rows(connection: Connection) -> list[RowMapping]:
    return list(connection.execute(select(crm_customers).order_by(crm_customers.c.id)).mappings())


def crm_outcome_rows(connection: Connection) -> list[RowMapping]:
    """Every stored outcome with what segments read: stage, time, amount, hashed identifiers, consent."""
    query = select(OUTCOMES.c.crm_id, OUTCOMES.c.stage, OUTCOMES.c.stage_at, OUTCOMES.c.amount,
                   OUTCOMES.c.currency, OUTCOMES.c.email_sha256, OUTCOMES.c.phone_sha256,
                   OUTCOMES.c.ad_personalization).order_by(OUTCOMES.c.id)
    return list(connection.execute(query).mappings())


def replace_members(connection: Connection, computed: dict[tuple[str, str], dict[tuple[str, str], bool]],
                    now: datetime) -> None:
    """Store each segment's members ((name, kind) -> {(identifier kind, sha256): consent}) by difference:
    only members that joined, left or changed consent are written (a cycle usually changes none).
    Segments no longer configured are dropped with their members."""
    names = sorted(name for name, _kind in computed)
    connection.execute(delete(crm_segment_members).where(crm_segment_members.c.segment.not_in(names))
                       if names else delete(crm_segment_members))
    connection.execute(delete(crm_segments).where(crm_segments.c.name.not_in(names))
                       if names else delete(crm_segments))
    known = set(connection.execute(select(crm_segments.c.name)).scalars())
    for (name, kind), found in sorted(computed.items()):
        summary = {"kind": kind, "size": len(found), "consented": sum(1 for c in found.values() if c),
                   "refreshed_at": now}
        if name in known:
            connection.execute(update(crm_segments).where(crm_segments.c.name == name).values(**summary))
        else:
            connection.execute(insert(crm_segments).values(name=name, **summary))
        stored = {(k, sha): bool(consent) for k, sha, consent in connection.execute(
            select(crm_segment_members.c.kind, crm_segment_members.c.sha256, crm_segment_members.c.consent)
            .where(crm_segment_members.c.segment == name))}
        _delete_members(connection, name, [key for key in stored if key not in found])
        for consent in (True, False):
            changed = [key for key, now_consent in found.items()
                       if now_consent is consent and stored.get(key, consent) is not consent]
            for member_kind, chunk in _by_kind(changed):
                connection.execute(update(crm_segment_members).where(
                    crm_segment_members.c.segment == name, crm_segment_members.c.kind == member_kind,
                    crm_segment_members.c.sha256.in_(chunk)).values(consent=consent))
        rows = [{"segment": name, "kind": k, "sha256": sha, "consent": consent}
                for (k, sha), consent in sorted(found.items()) if (k, sha) not in stored]
        for start in range(0, len(rows), CHUNK * 4):
            connection.execute(insert(crm_segment_members), rows[start:start + CHUNK * 4])


def _by_kind(keys: Iterable[tuple[str, str]]) -> Iterable[tuple[str, list[str]]]:
    """(identifier kind, a chunk of its hashes), for IN lists of bounded length."""
    hashes: dict[str, list[str]] = {}
    for kind, sha in keys:
        hashes.setdefault(kind, []).append(sha)
    for kind, values in sorted(hashes.items()):
        values.sort()
        for start in range(0, len(values), CHUNK):
            yield kind, values[start:start + CHUNK]


def _delete_members(connection: Connection, segment: str, keys: Iterable[tuple[str, str]]) -> None:
    for member_kind, chunk in _by_kind(keys):
        connection.execute(delete(crm_segment_members).where(
            crm_segment_members.c.segment == segment, crm_segment_members.c.kind == member_kind,
            crm_segment_members.c.sha256.in_(chunk)))


def members(connection: Connection, segment_name: str) -> list[Member]:
    """The segment's members as last computed (each cycle, and each `segments import` or `list`);
    SegmentNotComputed if it never was, so a caller cannot mistake "unknown" for "empty"."""
    known = connection.execute(select(crm_segments.c.name).where(crm_segments.c.name == segment_name)).first()
    if known is None:
        raise SegmentNotComputed(f"segment {segment_name!r} has no computed members (is it configured?)")
    query = (select(crm_segment_members.c.kind, crm_segment_members.c.sha256, crm_segment_members.c.consent)
             .where(crm_segment_members.c.segment == segment_name)
             .order_by(crm_segment_members.c.kind, crm_segment_members.c.sha256))
    return [Member(kind, sha, bool(consent)) for kind, sha, consent in connection.execute(query)]


def segment_sizes(connection: Connection) -> list[SegmentSize]:
    rows = connection.execute(select(crm_segments).order_by(crm_segments.c.name)).mappings()
    return [SegmentSize(r["name"], r["kind"], int(r["size"]), int(r["consented"]), as_utc(r["refreshed_at"]))
            for r in rows]


def forgotten(connection: Connection) -> set[tuple[str, str]]:
    """(kind, sha256) of every identifier erased by `privacy forget` and not yet cleared by a sync:
    an audience sync removes these from every platform audience, then calls `clear_forgotten`."""
    return {(kind, sha) for kind, sha in connection.execute(select(crm_forgotten.c.kind, crm_forgotten.c.sha256))}


def clear_forgotten(connection: Connection, identifiers: Collection[tuple[str, str]]) -> int:
    """Drop the markers of identifiers now removed from every platform audience."""
    removed = 0
    for kind, sha in identifiers:
        removed += connection.execute(delete(crm_forgotten).where(crm_forgotten.c.kind == kind,
                                                                  crm_forgotten.c.sha256 == sha)).rowcount
    return removed


@dataclass
class Erased:
    """What an erasure removed, as counts only (they go into the audit trail)."""

    outcomes: int = 0
    customers: int = 0
    memberships: int = 0
    uploads: int = 0
    identifiers: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"outcomes": self.outcomes, "customers": self.customers, "memberships": self.memberships,
                "uploads": self.uploads, "identifiers": self.identifiers}


def erase_person(connection: Connection, kind: IdentifierKind, sha256: str, now: datetime,
                 also: Iterable[tuple[str, str]] = ()) -> Erased:
    """Erase one person everywhere: every stage of each CRM record carrying the identifier (or another
    identifier of the same person found on those records or on customer-list entries), those entries,
    their segment memberships and their settled upload-ledger rows; then mark every identifier found
    as forgotten for the next audience sync. Rows `sending` stay in the ledger: an upload may be in
    flight, and they hold no personal data (a CRM id and an event id)."""
    identifiers: set[tuple[str, str]] = {(kind, sha256), *also}  # `also`: the phone's Meta form, known to forget
    crm_ids: set[str] = set()
    customer_ids: set[int] = set()
    for _round in range(4):  # the person's other identifiers, found through the records that link them
        before = (len(identifiers), len(crm_ids), len(customer_ids))
        emails = sorted(sha for k, sha in identifiers if k == "email")
        phones = sorted(sha for k, sha in identifiers if k == "phone")
        for row in connection.execute(select(OUTCOMES.c.crm_id, OUTCOMES.c.email_sha256, OUTCOMES.c.phone_sha256)
                                      .where(or_(OUTCOMES.c.email_sha256.in_(emails),
                                                 OUTCOMES.c.phone_sha256.in_(phones),
                                                 OUTCOMES.c.crm_id.in_(sorted(crm_ids))))):
            crm_ids.add(row.crm_id)
            identifiers |= _identifiers(row.email_sha256, row.phone_sha256)
        for row in connection.execute(select(crm_customers.c.id, crm_customers.c.email_sha256,
                                             crm_customers.c.phone_sha256)
                                      .where(or_(crm_customers.c.email_sha256.in_(emails),
                                                 crm_customers.c.phone_sha256.in_(phones)))):
            customer_ids.add(int(row.id))
            identifiers |= _identifiers(row.email_sha256, row.phone_sha256)
        if (len(identifiers), len(crm_ids), len(customer_ids)) == before:
            break
    phones_found = sorted(sha for k, sha in identifiers if k == "phone")
    identifiers |= {(PHONE_DIGITS, digits) for digits in phone_forms(connection, phones_found).values()}
    for start in range(0, len(phones_found), CHUNK):
        connection.execute(delete(crm_phone_forms).where(
            crm_phone_forms.c.phone_sha256.in_(phones_found[start:start + CHUNK])))
    erased = Erased(identifiers=len(identifiers))
    ids = sorted(crm_ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        erased.outcomes += connection.execute(delete(OUTCOMES).where(OUTCOMES.c.crm_id.in_(chunk))).rowcount
        erased.uploads += connection.execute(delete(UPLOADS).where(
            UPLOADS.c.crm_id.in_(chunk), UPLOADS.c.state.in_(SETTLED_UPLOADS))).rowcount
    erased.customers = connection.execute(
        delete(crm_customers).where(crm_customers.c.id.in_(sorted(customer_ids)))).rowcount
    for member_kind, sha in sorted(identifiers):
        erased.memberships += connection.execute(delete(crm_segment_members).where(
            crm_segment_members.c.kind == member_kind, crm_segment_members.c.sha256 == sha)).rowcount
        connection.execute(delete(crm_forgotten).where(crm_forgotten.c.kind == member_kind,
                                                       crm_forgotten.c.sha256 == sha))
        connection.execute(insert(crm_forgotten).values(kind=member_kind, sha256=sha, forgotten_at=now))
    return erased


def remember_phone_forms(connection: Connection, pairs: Iterable[tuple[str | None, str | None]]) -> int:
    """Keep (phone hash, its Meta-form hash) pairs met at import; pairs with a missing side are skipped."""
    wanted = {phone: digits for phone, digits in pairs if phone and digits}
    if not wanted:
        return 0
    known: set[str] = set()
    phones = sorted(wanted)
    for start in range(0, len(phones), CHUNK):
        known.update(connection.execute(select(crm_phone_forms.c.phone_sha256).where(
            crm_phone_forms.c.phone_sha256.in_(phones[start:start + CHUNK]))).scalars())
    new = [{"phone_sha256": p, "digits_sha256": wanted[p]} for p in phones if p not in known]
    if new:
        connection.execute(insert(crm_phone_forms), new)
    return len(new)


def phone_forms(connection: Connection, phones: Collection[str]) -> dict[str, str]:
    """Phone hash -> its Meta-form hash, for those known."""
    found: dict[str, str] = {}
    ordered = sorted(phones)
    for start in range(0, len(ordered), CHUNK):
        found.update({p: d for p, d in connection.execute(select(crm_phone_forms.c.phone_sha256,
                                                                 crm_phone_forms.c.digits_sha256).where(
            crm_phone_forms.c.phone_sha256.in_(ordered[start:start + CHUNK])))})
    return found


def _identifiers(email: str | None, phone: str | None) -> set[tuple[str, str]]:
    return {(k, v) for k, v in (("email", email), ("phone", phone)) if v}


@dataclass
class Pruned:
    crm_records: int = 0
    outcomes: int = 0
    uploads: int = 0
    customers: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"crm_records": self.crm_records, "outcomes": self.outcomes, "uploads": self.uploads,
                "customers": self.customers}


def prune_before(connection: Connection, cutoff: datetime) -> Pruned:
    """Delete CRM records whose newest stage is before `cutoff` (all their stages, their attributions
    and settled upload-ledger rows) and customer-list entries no import has listed since `cutoff`."""
    stale: Sequence[str] = list(connection.execute(
        select(OUTCOMES.c.crm_id).group_by(OUTCOMES.c.crm_id).having(func.max(OUTCOMES.c.stage_at) < cutoff)
    ).scalars())
    pruned = Pruned(crm_records=len(stale))
    for start in range(0, len(stale), CHUNK):
        chunk = list(stale[start:start + CHUNK])
        pruned.outcomes += connection.execute(delete(OUTCOMES).where(OUTCOMES.c.crm_id.in_(chunk))).rowcount
        pruned.uploads += connection.execute(delete(UPLOADS).where(
            UPLOADS.c.crm_id.in_(chunk), UPLOADS.c.state.in_(SETTLED_UPLOADS))).rowcount
    pruned.customers = connection.execute(
        delete(crm_customers).where(crm_customers.c.last_seen_at < cutoff)).rowcount
    # a phone's Meta form goes with the last record that carried the phone
    still = select(OUTCOMES.c.phone_sha256).where(OUTCOMES.c.phone_sha256.is_not(None)).union(
        select(crm_customers.c.phone_sha256).where(crm_customers.c.phone_sha256.is_not(None)))
    connection.execute(delete(crm_phone_forms).where(crm_phone_forms.c.phone_sha256.not_in(still)))
    return pruned


def attributed_identities(connection: Connection, account_ids: Collection[str] | None = None) -> list[RowMapping]:
    """Every outcome attributed to an account (click id or UTM), with its CRM id, stage time, click day
    and hashed identifiers: what the new-vs-existing-customer share reads (per account or campaign)."""
    attributions = Attribution.__table__
    query = (select(OUTCOMES.c.crm_id, OUTCOMES.c.stage, OUTCOMES.c.stage_at, OUTCOMES.c.email_sha256,
                    OUTCOMES.c.phone_sha256, attributions.c.account_id, attributions.c.campaign_id,
                    attributions.c.click_day)
             .join(attributions, attributions.c.outcome_id == OUTCOMES.c.id)
             .where(attributions.c.account_id.is_not(None)))
    if account_ids is not None:
        query = query.where(attributions.c.account_id.in_(sorted(account_ids)))
    return list(connection.execute(query).mappings())
