"""One outcome as the rest of the code sees it, built from a mapped row and checked field by field.

Emails and phones are normalized and hashed here, at the edge, so nothing past this module ever
holds them in clear: the email trimmed and lower-cased, the phone reduced to `+` and its digits
(E.164-like; a leading `00` becomes `+`), then SHA-256 as lowercase hex. A phone is also hashed in
the form Meta matches (its digits without the `+`, `meta_phone_sha256`), kept only to upload to Meta
custom audiences (agent/storage/crm_segments.py `crm_phone_forms`); the clear value is never stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from agent.outcomes.settings import STAGES, UTM_FIELDS

CLICK_ID_FIELDS = ("gclid", "gbraid", "wbraid", "fbclid", "fbc", "li_fat_id")
TEXT_FIELDS = (*CLICK_ID_FIELDS, *UTM_FIELDS)
CONSENT_FIELDS = ("ad_user_data", "ad_personalization")  # EEA consent, sent with offline conversions
_CONSENT_VALUES = {"granted": "granted", "true": "granted", "yes": "granted", "1": "granted",
                   "denied": "denied", "false": "denied", "no": "denied", "0": "denied"}
CURRENCY = re.compile(r"^[A-Z]{3}$")
CODE_AND_AMOUNT = re.compile(r"^([A-Z]{3})\s*([0-9][0-9.,\s]*)$")
MAX_TEXT = 255
NOT_STORED = ("phone_digits_sha256",)  # record fields that are no `outcomes` column (kept in crm_phone_forms)


class RejectedRow(ValueError):
    """A row we cannot use; the message is the one-line reason (never a personal value)."""


QUOTED = re.compile(r"'[^']*'")
DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def _looks_personal(quoted: str) -> bool:
    value = quoted.strip("'")
    if "@" in value:
        return True
    return not DATE_LIKE.match(value) and len(re.sub(r"\D", "", value)) >= 6


def redact_reason(reason: str) -> str:
    """A rejection reason with any quoted value that looks like an email or a phone replaced: a shifted
    column can put one where a date or an amount belongs, and the reason quotes the value it could not read."""
    return QUOTED.sub(lambda m: "'<looks like an email or phone>'" if _looks_personal(m.group()) else m.group(),
                      reason)


@dataclass(frozen=True)
class OutcomeRecord:
    """A CRM record at one stage, personal data already hashed."""

    crm_id: str
    stage: str
    stage_at: datetime
    amount: Decimal | None = None
    currency: str | None = None
    gclid: str | None = None
    gbraid: str | None = None
    wbraid: str | None = None
    fbclid: str | None = None
    fbc: str | None = None
    li_fat_id: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    email_sha256: str | None = None
    phone_sha256: str | None = None
    ad_user_data: str | None = None  # granted | denied, when the CRM recorded it
    ad_personalization: str | None = None
    # the phone hashed as Meta matches it (digits, no `+`): not an outcome column, see `meta_phone_sha256`
    phone_digits_sha256: str | None = None

    def values(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name not in NOT_STORED}


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalize_email(raw: str) -> str | None:
    email = raw.strip().lower()
    return email if "@" in email else None


def meta_phone_sha256(phone_normal: str) -> str:
    """The SHA-256 of a normalized phone (`+` and digits) in Meta's form: the digits with the country
    code, no `+` (the facebook-business SDK's `normalize_key` for PHONE keeps digits only)."""
    return sha256_hex(phone_normal.lstrip("+"))


def normalize_phone(raw: str) -> str | None:
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = re.sub(r"\D", "", text)
    if not 6 <= len(digits) <= 15:
        return None
    return "+" + digits


def parse_timestamp(raw: str) -> datetime:
    """ISO 8601 (date, or date and time with or without offset; naive means UTC), or Unix milliseconds
    (HubSpot's API form). Raises ValueError."""
    text = raw.strip()
    if re.fullmatch(r"\d{12,14}", text):
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(fields: Mapping[str, str | None], name: str) -> str | None:
    value = fields.get(name)
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    if len(value) > MAX_TEXT:
        raise RejectedRow(f"{name} is longer than {MAX_TEXT} characters")
    return value


def build_record(fields: Mapping[str, str | None]) -> OutcomeRecord:
    """An OutcomeRecord from canonical field names (crm_id, stage, stage_at, amount, currency, click ids,
    utm_*, email, phone), or RejectedRow naming the first problem."""
    crm_id = _text(fields, "crm_id")
    if crm_id is None:
        raise RejectedRow("crm_id is empty")
    stage = (_text(fields, "stage") or "").lower()
    if stage not in STAGES:
        raise RejectedRow(f"unknown stage {stage!r} (one of {', '.join(STAGES)})" if stage else "stage is empty")
    raw_at = _text(fields, "stage_at")
    if raw_at is None:
        raise RejectedRow(f"{stage} has no timestamp")
    try:
        stage_at = parse_timestamp(raw_at)
    except (ValueError, OverflowError, OSError):
        raise RejectedRow(f"stage_at {raw_at[:40]!r} is not a date or ISO 8601 timestamp") from None
    amount, currency = _amount(fields)
    email = _text(fields, "email")
    phone = _text(fields, "phone")
    email_normal = normalize_email(email) if email else None
    if email and email_normal is None:
        raise RejectedRow("email is not an email address")  # the value itself is never repeated
    phone_normal = normalize_phone(phone) if phone else None
    if phone and phone_normal is None:
        raise RejectedRow("phone does not have 6 to 15 digits")
    return OutcomeRecord(
        crm_id=crm_id, stage=stage, stage_at=stage_at, amount=amount, currency=currency,
        **{name: _text(fields, name) for name in TEXT_FIELDS},
        email_sha256=sha256_hex(email_normal) if email_normal else None,
        phone_sha256=sha256_hex(phone_normal) if phone_normal else None,
        phone_digits_sha256=meta_phone_sha256(phone_normal) if phone_normal else None,
        **{name: _consent(fields, name) for name in CONSENT_FIELDS},
    )


def consent_value(raw: str) -> str | None:
    """`granted` or `denied` from the CRM's spellings (granted/denied, yes/no, true/false, 1/0); None if unknown."""
    return _CONSENT_VALUES.get(raw.strip().lower())


def parse_amount(fields: Mapping[str, str | None]) -> tuple[Decimal | None, str | None]:
    """(amount, currency) from the `amount` and `currency` fields, or RejectedRow naming the problem."""
    return _amount(fields)


def _consent(fields: Mapping[str, str | None], name: str) -> str | None:
    raw = (_text(fields, name) or "").lower()
    if not raw:
        return None
    if raw not in _CONSENT_VALUES:
        raise RejectedRow(f"{name} {raw[:20]!r} is not granted or denied")
    return _CONSENT_VALUES[raw]


def _amount(fields: Mapping[str, str | None]) -> tuple[Decimal | None, str | None]:
    raw = _text(fields, "amount")
    currency = (_text(fields, "currency") or "").upper() or None
    if currency is not None and not CURRENCY.match(currency):
        raise RejectedRow(f"currency {currency[:10]!r} is not a three-letter ISO 4217 code")
    if raw is None:
        return None, currency
    prefixed = CODE_AND_AMOUNT.match(raw)  # "USD 30,000.00", as multi-currency Salesforce reports write it
    if prefixed:
        if currency not in (None, prefixed.group(1)):
            raise RejectedRow(f"amount is in {prefixed.group(1)} but currency says {currency}")
        currency, raw = prefixed.group(1), prefixed.group(2)
    try:
        amount = Decimal(raw.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        raise RejectedRow(f"amount {raw[:20]!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
        raise RejectedRow(f"amount {raw[:20]!r} is not a plausible non-negative amount")
    if currency is None:
        raise RejectedRow("amount has no currency")
    return amount, currency
