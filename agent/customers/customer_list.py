"""One customer-list row as the rest of the code sees it: identifiers hashed, dates and amounts checked.

Emails and phones go through the outcomes' normalization and hashing (agent/outcomes/records.py: one
place), so a customer list and a CRM export of the same person meet on the same hash. A rejected
row's reason never repeats a personal value. Only the CRM fields some segment rule reads are kept
(data minimization): any other column is dropped at import and named in the import's report.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from agent.outcomes.records import (
    RejectedRow,
    consent_value,
    meta_phone_sha256,
    normalize_email,
    normalize_phone,
    parse_amount,
    parse_timestamp,
    redact_reason,
    sha256_hex,
)
from agent.storage.crm_segments import CustomerRecord

MAX_TEXT = 255
# our column -> the headers that mean it (case-insensitive), first non-empty wins
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "customer_id", "crm_id", "contact_id", "record_id"),
    "email": ("email", "email_address", "e-mail"),
    "phone": ("phone", "phone_number", "mobile", "mobile_phone"),
    "amount": ("amount", "lifetime_value", "ltv", "total_spent"),
    "currency": ("currency",),
    "last_purchase": ("last_purchase", "last_purchase_at", "last_purchase_date", "last_order_date"),
    "customer_since": ("customer_since", "first_purchase", "first_purchase_date", "became_customer_at"),
    "marketing_consent": ("marketing_consent", "consent", "accepts_marketing", "email_marketing_consent"),
}


class BadHeader(ValueError):
    """The file's columns cannot make a customer list; the message says which is missing."""


@dataclass(frozen=True)
class ColumnPlan:
    """Which of the file's columns feed which of our fields, and which it drops."""

    columns: dict[str, tuple[str, ...]]  # our field -> the file's headers holding it
    kept_fields: dict[str, str]  # CRM field named by a segment rule -> the file's header
    ignored: tuple[str, ...]  # the file's headers nothing reads (not stored)


def plan_columns(header: Sequence[str], rule_fields: Collection[str]) -> ColumnPlan:
    """Match the header against our columns and the CRM fields the segment rules read; BadHeader if
    there is no id column, or neither an email nor a phone column."""
    by_lower = {name.strip().lower(): name for name in header if name and name.strip()}
    columns = {ours: tuple(by_lower[a] for a in aliases if a in by_lower) for ours, aliases in ALIASES.items()}
    if not columns["id"]:
        raise BadHeader(f"no id column (one of {', '.join(ALIASES['id'])})")
    if not columns["email"] and not columns["phone"]:
        raise BadHeader("no email or phone column: a segment's members are hashed emails and phones")
    used = {header_name for names in columns.values() for header_name in names}
    kept = {field: by_lower[field.lower()] for field in sorted(rule_fields)
            if field.lower() in by_lower and by_lower[field.lower()] not in used}
    ignored = tuple(name for name in header if name and name.strip() and name not in used
                    and name not in kept.values())
    return ColumnPlan(columns, kept, ignored)


def _cell(cells: Mapping[str, str | None], headers: Sequence[str]) -> str | None:
    for header in headers:
        value = cells.get(header)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def build_customer(cells: Mapping[str, str | None], plan: ColumnPlan) -> CustomerRecord:
    """A CustomerRecord from one row, or RejectedRow naming the first problem (never the value of an
    email or phone, wherever it sits)."""
    try:
        return _build_customer(cells, plan)
    except RejectedRow as error:
        raise RejectedRow(redact_reason(str(error))) from None


def _build_customer(cells: Mapping[str, str | None], plan: ColumnPlan) -> CustomerRecord:
    def cell(name: str) -> str | None:
        return _cell(cells, plan.columns[name])

    customer_id = cell("id")
    if customer_id is None:
        raise RejectedRow("id is empty")
    if len(customer_id) > MAX_TEXT:
        raise RejectedRow(f"id is longer than {MAX_TEXT} characters")
    email, phone = cell("email"), cell("phone")
    email_normal = normalize_email(email) if email else None
    if email and email_normal is None:
        raise RejectedRow("email is not an email address")
    phone_normal = normalize_phone(phone) if phone else None
    if phone and phone_normal is None:
        raise RejectedRow("phone does not have 6 to 15 digits")
    if email_normal is None and phone_normal is None:
        raise RejectedRow("no email or phone")
    amount, currency = parse_amount({"amount": cell("amount"), "currency": cell("currency")})
    consent_text = cell("marketing_consent")
    consent = consent_value(consent_text) if consent_text else None
    if consent_text and consent is None:
        raise RejectedRow(f"marketing_consent {consent_text[:20]!r} is not yes or no")
    fields: list[tuple[str, str]] = []
    for field, header in sorted(plan.kept_fields.items()):
        value = _cell(cells, (header,))
        if value is not None:
            if len(value) > MAX_TEXT:
                raise RejectedRow(f"{field} is longer than {MAX_TEXT} characters")
            fields.append((field, value))
    return CustomerRecord(
        customer_id=customer_id,
        email_sha256=sha256_hex(email_normal) if email_normal else None,
        phone_sha256=sha256_hex(phone_normal) if phone_normal else None,
        phone_digits_sha256=meta_phone_sha256(phone_normal) if phone_normal else None,
        amount=amount, currency=currency,
        last_purchase_at=_time(cell("last_purchase"), "last_purchase"),
        customer_since=_time(cell("customer_since"), "customer_since"),
        marketing_consent=None if consent is None else consent == "granted",
        fields=tuple(fields),
    )


def _time(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        return parse_timestamp(raw)
    except (ValueError, OverflowError, OSError):
        raise RejectedRow(f"{name} {raw[:40]!r} is not a date or ISO 8601 timestamp") from None
