"""Offline conversions to Meta: the Conversions API (`POST /{dataset_id}/events`) through the
facebook-business SDK's server-side `Event` objects, sent on the account's own paced API.

Each CRM stage is an event with `action_source: system_generated`, our deterministic `event_id`
(Meta de-duplicates events with the same `event_name` and `event_id`), the hashed email (`em`) and
the click (`fbc`; built as `fb.1.<click ms>.<fbclid>` from a bare fbclid), and `custom_data`
value and currency for stages that carry an amount. Meta refuses the whole request when any
`event_time` is more than 7 days old
(https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/server-event/; the
Conversion Leads payload specification gives the same 7 days for CRM stages, with `custom_data`
`event_source: crm` and `lead_event_source`), so older stages are left out before sending. Phones are not sent: Meta hashes digits without `+`,
our stored hash includes it. Meta offers no way to take an event back: a lost deal is not retracted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import requests
from facebook_business.adobjects.adspixel import AdsPixel
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.exceptions import FacebookRequestError

from connectors.conversion_uploads import (
    ConversionEvent,
    UploadResult,
    UploadStatus,
    UploadTarget,
    age_problem,
)
from connectors.meta.api import build_api
from connectors.meta.usage import UsageThrottle

PLATFORM = "meta"
EVENT_LIMIT = timedelta(days=7)
MAX_EVENTS_PER_REQUEST = 1000
LEAD_EVENT_SOURCE = "paid-media-agent"  # the /events edge takes up to 1,000 events per request


def fbc_of(event: ConversionEvent) -> str | None:
    """The `_fbc` value: as captured, or built from the fbclid and the click time."""
    if event.fbc:
        return event.fbc
    if event.fbclid and event.clicked_at is not None:
        return f"fb.1.{int(event.clicked_at.timestamp() * 1000)}.{event.fbclid}"
    return None


class MetaConversionUploader:
    platform = PLATFORM
    supports_retraction = False

    def __init__(self, throttle: UsageThrottle, graph_url: str | None = None, timeout: float | None = None) -> None:
        self._throttle = throttle
        self._graph_url = graph_url
        self._timeout = timeout

    def too_old(self, event: ConversionEvent, now: datetime) -> str | None:
        return age_problem(event, now, since_event=EVENT_LIMIT, platform="Meta")

    @staticmethod
    def server_event(event: ConversionEvent) -> Event:
        user = UserData(emails=[event.email_sha256] if event.email_sha256 else None, fbc=fbc_of(event))
        # the Conversion Leads payload: CRM stages are `system_generated` events from `event_source: crm`
        crm = {"event_source": "crm", "lead_event_source": LEAD_EVENT_SOURCE}
        custom = CustomData(value=float(event.value), currency=(event.currency or "").lower(),
                            custom_properties=crm) if event.value is not None else CustomData(custom_properties=crm)
        return Event(event_name=event.destination, event_time=int(event.happened_at.timestamp()),
                     event_id=event.event_id, user_data=user, custom_data=custom,
                     action_source=ActionSource.SYSTEM_GENERATED)

    def upload(self, target: UploadTarget, events: Sequence[ConversionEvent]) -> list[UploadResult]:
        if not target.dataset_id:
            return [UploadResult(e.event_id, "rejected", "no Meta dataset (pixel) id configured") for e in events]
        api = build_api(target.credentials, self._throttle, target.account_id, self._graph_url, self._timeout)
        results: list[UploadResult] = []
        for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
            chunk = events[start:start + MAX_EVENTS_PER_REQUEST]
            params = EventRequest(pixel_id=target.dataset_id,
                                  events=[self.server_event(e) for e in chunk]).get_params()
            try:
                answer: Mapping[str, object] = AdsPixel(target.dataset_id, api=api).create_event(params=params)
            except FacebookRequestError as error:
                status: UploadStatus = "unknown" if (error.http_status() or 0) >= 500 or error.api_transient_error() else "rejected"
                results += [UploadResult(e.event_id, status, f"Conversions API: {error.api_error_message()}")
                            for e in chunk]
            except requests.RequestException as error:
                results += [UploadResult(e.event_id, "unknown", f"no answer: {type(error).__name__}") for e in chunk]
            else:
                received = int(str(answer.get("events_received") or 0))
                status = "uploaded" if received == len(chunk) else "unknown"
                results += [UploadResult(e.event_id, status, None if status == "uploaded" else
                                         f"Meta received {received} of {len(chunk)} events") for e in chunk]
        return results

    def retract(self, target: UploadTarget, events: Sequence[ConversionEvent], now: datetime
                ) -> list[UploadResult]:
        return [UploadResult(e.event_id, "rejected", "Meta's Conversions API cannot retract an event")
                for e in events]
