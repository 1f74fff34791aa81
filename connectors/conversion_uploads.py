"""Offline conversions sent back to the platforms: the event every uploader takes, its answer, and
the age limits each platform sets.

Pure records, no SDK: the agent builds `ConversionEvent`s from CRM outcomes, and each platform's
uploader (`connectors/<platform>/offline_conversions.py`) turns them into its own API call. The
`event_id` is deterministic (the same CRM record and stage always give the same id), and each
platform de-duplicates on it (Google's transaction id, Meta's `event_id`, LinkedIn's `eventId`):
re-sending a batch whose answer was lost is harmless.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

ConsentStatus = Literal["granted", "denied", "unspecified"]
UploadStatus = Literal["uploaded", "rejected", "unknown"]


def event_id_for(crm_id: str, stage: str) -> str:
    """The id one CRM record's stage carries on every platform, the same at every attempt."""
    return "pma-" + hashlib.sha256(f"{crm_id}\x1f{stage}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Consent:
    """EEA consent (Google's `ad_user_data` / `ad_personalization`)."""

    ad_user_data: ConsentStatus = "unspecified"
    ad_personalization: ConsentStatus = "unspecified"


@dataclass(frozen=True)
class ConversionEvent:
    """One CRM stage reached, as a platform conversion.

    `destination`: Google's conversion action id, Meta's event name, LinkedIn's conversion rule urn.
    `happened_at` and `clicked_at` are aware UTC times. Emails and phones are SHA-256 hex of the
    normalized value (agent/outcomes/records.py), never clear text."""

    event_id: str
    destination: str
    happened_at: datetime
    value: Decimal | None = None
    currency: str | None = None
    clicked_at: datetime | None = None
    gclid: str | None = None
    gbraid: str | None = None
    wbraid: str | None = None
    fbclid: str | None = None
    fbc: str | None = None
    li_fat_id: str | None = None
    email_sha256: str | None = None
    phone_sha256: str | None = None
    consent: Consent = Consent()


@dataclass(frozen=True)
class UploadResult:
    """The platform's answer for one event: uploaded (or a duplicate of one uploaded before),
    rejected (surely not counted, with the reason), or unknown (no answer: re-send the same id)."""

    event_id: str
    status: UploadStatus
    error: str | None = None


@dataclass(frozen=True)
class UploadTarget:
    """Where an account's conversions go: the platform's account id, its dataset (Meta pixel) if any,
    and the credentials (never logged)."""

    account_id: str
    platform_account_id: str
    credentials: dict[str, str]
    dataset_id: str | None = None
    use_click_conversions: bool = False  # Google: the Google Ads API fallback (allowlisted tokens)


class ConversionUploader(Protocol):
    """A platform's offline-conversion upload. `too_old` says why an event can no longer be sent."""

    platform: str
    supports_retraction: bool

    def too_old(self, event: ConversionEvent, now: datetime) -> str | None: ...

    def upload(self, target: UploadTarget, events: Sequence[ConversionEvent]) -> list[UploadResult]: ...

    def retract(self, target: UploadTarget, events: Sequence[ConversionEvent], now: datetime
                ) -> list[UploadResult]: ...


def age_problem(event: ConversionEvent, now: datetime, *, since_click: timedelta | None = None,
                since_event: timedelta | None = None, platform: str) -> str | None:
    """Why `event` is past a platform's limit (days after the click, or days before now), or None."""
    if event.happened_at > now:
        return f"{platform}: the stage time is in the future"
    if since_click is not None and event.clicked_at is not None and event.happened_at - event.clicked_at > since_click:
        return f"{platform} accepts conversions at most {since_click.days} days after the click"
    if since_event is not None and now - event.happened_at > since_event:
        return f"{platform} accepts events at most {since_event.days} days old"
    return None
