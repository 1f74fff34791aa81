"""Offline conversions to LinkedIn: the Conversions API (`POST /rest/conversionEvents`, batch create).

Each event names its conversion rule (`urn:lla:llaPartnerConversion:<id>`), when it happened (epoch
milliseconds, at most 90 days ago), its value, our deterministic `eventId` (LinkedIn
de-duplicates on it), and the person: `SHA256_EMAIL` and the click's `li_fat_id`
(`LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID`); an event with neither cannot be matched and is not
sent. The call carries the same `LinkedIn-Version` as the rest of the connector
(https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/conversions-api).
LinkedIn offers no way to take a conversion back: a lost deal is not retracted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from connectors.conversion_uploads import (
    ConversionEvent,
    UploadResult,
    UploadStatus,
    UploadTarget,
    age_problem,
)
from connectors.linkedin.reports import LinkedInAccount
from connectors.linkedin.transport import HttpFailure, RestClient

PLATFORM = "linkedin"
EVENT_LIMIT = timedelta(days=90)
MAX_EVENTS_PER_REQUEST = 5000


def conversion_event(event: ConversionEvent) -> dict[str, Any]:
    """The Rest.li body of one conversion event."""
    user_ids = []
    if event.email_sha256:
        user_ids.append({"idType": "SHA256_EMAIL", "idValue": event.email_sha256})
    if event.li_fat_id:
        user_ids.append({"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": event.li_fat_id})
    body: dict[str, Any] = {"conversion": event.destination,
                            "conversionHappenedAt": int(event.happened_at.timestamp() * 1000),
                            "eventId": event.event_id, "user": {"userIds": user_ids}}
    if event.value is not None:
        body["conversionValue"] = {"currencyCode": event.currency, "amount": format(event.value, "f")}
    return body


class LinkedInConversionUploader:
    platform = PLATFORM
    supports_retraction = False

    def __init__(self, http: RestClient) -> None:
        self._http = http

    @classmethod
    def from_options(cls, base_url: str, version: str, transport: httpx.BaseTransport | None, timeout: float,
                     now: Callable[[], datetime]) -> LinkedInConversionUploader:
        return cls(RestClient(base_url=base_url, version=version, transport=transport, timeout=timeout, now=now))

    def too_old(self, event: ConversionEvent, now: datetime) -> str | None:
        if not event.email_sha256 and not event.li_fat_id:
            return "LinkedIn needs an email or an li_fat_id to match the conversion"
        return age_problem(event, now, since_event=EVENT_LIMIT, platform="LinkedIn")

    def upload(self, target: UploadTarget, events: Sequence[ConversionEvent]) -> list[UploadResult]:
        account = LinkedInAccount(target.account_id, target.platform_account_id, target.account_id, "UTC",
                                  target.credentials)
        results: list[UploadResult] = []
        for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
            chunk = events[start:start + MAX_EVENTS_PER_REQUEST]
            try:
                answer, _headers = self._http.send(account, "POST", "/rest/conversionEvents",
                                                   json_body={"elements": [conversion_event(e) for e in chunk]},
                                                   headers={"X-RestLi-Method": "BATCH_CREATE"})
            except HttpFailure as error:
                status: UploadStatus = "unknown" if error.status >= 500 else "rejected"
                results += [UploadResult(e.event_id, status, f"Conversions API: {error}") for e in chunk]
                continue
            except httpx.HTTPError as error:
                results += [UploadResult(e.event_id, "unknown", f"no answer: {type(error).__name__}") for e in chunk]
                continue
            elements = (answer or {}).get("elements") or []
            for index, event in enumerate(chunk):
                element = elements[index] if index < len(elements) else {}
                status_code = int(element.get("status") or 0)
                if status_code in (200, 201):
                    results.append(UploadResult(event.event_id, "uploaded"))
                elif 400 <= status_code < 500:
                    results.append(UploadResult(event.event_id, "rejected",
                                                f"Conversions API: {element.get('error', {}).get('message', '')}"))
                else:
                    results.append(UploadResult(event.event_id, "unknown", f"no status for event {index}"))
        return results

    def retract(self, target: UploadTarget, events: Sequence[ConversionEvent], now: datetime
                ) -> list[UploadResult]:
        return [UploadResult(e.event_id, "rejected", "LinkedIn's Conversions API cannot retract a conversion")
                for e in events]
