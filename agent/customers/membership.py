"""Who is in each CRM segment: the configured rules applied to customer-list entries and imported outcomes.

A *source record* is a customer-list entry or a CRM record (all stages of one CRM id). Each carries
hashed identifiers and what the rules read: whether it is a customer, its value, its last purchase,
its marketing consent and its CRM fields. Value and last purchase are judged per identifier, across
every record the segment reads, so a person who bought last week on one record is not lapsed on another.

A member's consent is True only if some record grants it and none denies it: a customer list's
`marketing_consent`, or a CRM record's `ad_personalization` (the consent to personalized advertising
that audience targeting is). No record saying anything means no consent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, RowMapping

from agent.config import AgentConfig
from agent.customers.settings import SegmentDefinition
from agent.storage.action_states import as_utc
from agent.storage.crm_segments import crm_outcome_rows, customer_rows, replace_members

Identifier = tuple[str, str]  # (kind, sha256)


@dataclass
class SourceRecord:
    source: str  # "lists" or "outcomes"
    list_name: str | None
    record_id: str  # customer id or CRM id
    identifiers: set[Identifier] = field(default_factory=set)
    customer: bool = False
    value: Decimal | None = None  # in the reporting currency
    last_purchase: datetime | None = None
    customer_since: datetime | None = None
    consent: bool | None = None
    fields: dict[str, str] = field(default_factory=dict)


def _converter(config: AgentConfig) -> Callable[[Decimal | None, str | None], Decimal | None]:
    currency, rates = config.reporting.currency, config.reporting.fx_rates

    def convert(amount: Decimal | None, from_currency: str | None) -> Decimal | None:
        if amount is None:
            return None
        if from_currency in (None, currency):
            return amount
        rate = rates.get(str(from_currency))
        return None if rate is None else amount * rate  # no rate: not comparable, so not counted

    return convert


def _identifiers(row: RowMapping) -> set[Identifier]:
    return {(kind, row[f"{kind}_sha256"]) for kind in ("email", "phone") if row[f"{kind}_sha256"]}


def list_records(rows: Iterable[RowMapping], config: AgentConfig) -> list[SourceRecord]:
    convert = _converter(config)
    return [SourceRecord("lists", row["list_name"], row["customer_id"], _identifiers(row), customer=True,
                         value=convert(row["amount"], row["currency"]),
                         last_purchase=as_utc(row["last_purchase_at"]) if row["last_purchase_at"] else None,
                         customer_since=as_utc(row["customer_since"]) if row["customer_since"] else None,
                         consent=row["marketing_consent"], fields=dict(row["fields"] or {}))
            for row in rows]


def outcome_records(rows: Iterable[RowMapping], config: AgentConfig) -> list[SourceRecord]:
    """One SourceRecord per CRM id: a customer from its first won stage (`customer_since`), valued at
    the sum of its won amounts, last purchase its latest won stage."""
    convert = _converter(config)
    records: dict[str, SourceRecord] = {}
    for row in rows:
        record = records.setdefault(row["crm_id"], SourceRecord("outcomes", None, row["crm_id"]))
        record.identifiers |= _identifiers(row)
        consent = row["ad_personalization"]
        if consent is not None:
            granted = consent == "granted"
            record.consent = granted if record.consent is None else (record.consent and granted)
        if row["stage"] != "won":
            continue
        at = as_utc(row["stage_at"])
        record.customer = True
        record.customer_since = min(at, record.customer_since or at)
        record.last_purchase = max(at, record.last_purchase or at)
        amount = convert(row["amount"], row["currency"])
        if amount is not None:
            record.value = (record.value or Decimal(0)) + amount
    return list(records.values())


def reads(segment: SegmentDefinition, record: SourceRecord) -> bool:
    if record.source == "outcomes":
        return segment.uses("outcomes")
    return segment.reads_list(record.list_name or "")


def _number(text: str | None) -> Decimal | None:
    try:
        return Decimal((text or "").replace(",", "").strip())
    except InvalidOperation:
        return None


def _field_matches(segment: SegmentDefinition, record: SourceRecord) -> bool:
    name = segment.field or ""
    value = str(record.value) if name == "amount" and record.value is not None else record.fields.get(name)
    if value is None:
        return False
    if segment.equals is not None:
        return value.strip().lower() == segment.equals.strip().lower()
    if segment.in_ is not None:
        return value.strip().lower() in {v.strip().lower() for v in segment.in_}
    number = _number(value)
    if number is None or not number.is_finite():
        return False
    return ((segment.greater_than is None or number > segment.greater_than)
            and (segment.less_than is None or number < segment.less_than))


def segment_identifiers(segment: SegmentDefinition, records: Sequence[SourceRecord], now: datetime) -> set[Identifier]:
    """The identifiers in the segment (before consent)."""
    read = [r for r in records if reads(segment, r)]
    if segment.kind == "existing_customers":
        return {i for r in read if r.customer for i in r.identifiers}
    if segment.kind == "field":
        return {i for r in read if _field_matches(segment, r) for i in r.identifiers}
    best: dict[Identifier, Decimal] = {}
    latest: dict[Identifier, datetime] = {}
    for record in read:
        for identifier in record.identifiers:
            if record.value is not None:
                best[identifier] = max(record.value, best.get(identifier, record.value))
            if record.last_purchase is not None:
                latest[identifier] = max(record.last_purchase, latest.get(identifier, record.last_purchase))
    if segment.kind == "high_value":
        threshold = segment.amount_above or Decimal(0)
        return {i for i, value in best.items() if value > threshold}
    cutoff = now - timedelta(days=segment.days_without_purchase or 0)
    return {i for i, last in latest.items() if last < cutoff}


def consents(records: Iterable[SourceRecord]) -> dict[Identifier, bool]:
    """Each identifier's consent: granted somewhere and denied nowhere."""
    said: dict[Identifier, list[bool]] = defaultdict(list)
    for record in records:
        if record.consent is not None:
            for identifier in record.identifiers:
                said[identifier].append(bool(record.consent))
    return {identifier: bool(answers) and all(answers) for identifier, answers in said.items()}


def compute_members(segments: Sequence[SegmentDefinition], records: Sequence[SourceRecord],
                    now: datetime) -> dict[tuple[str, str], dict[Identifier, bool]]:
    """(segment name, kind) -> {identifier: consent}."""
    consent = consents(records)
    return {(s.name, s.kind): {i: consent.get(i, False) for i in segment_identifiers(s, records, now)}
            for s in segments}


def source_records(connection: Connection, config: AgentConfig) -> list[SourceRecord]:
    return [*list_records(customer_rows(connection), config),
            *outcome_records(crm_outcome_rows(connection), config)]


def refresh_segments(connection: Connection, config: AgentConfig, now: datetime) -> Mapping[str, int]:
    """Recompute and store every configured segment's members, in the caller's transaction; returns
    each segment's size."""
    computed = compute_members(config.segments, source_records(connection, config), now)
    replace_members(connection, computed, now)
    return {name: len(found) for (name, _kind), found in computed.items()}
