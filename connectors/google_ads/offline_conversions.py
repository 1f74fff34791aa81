"""Offline conversions to Google: the Data Manager API first, the Google Ads API as a fallback.

Since 2026 the Google Ads API accepts offline click conversions only from developer tokens Google
has allowlisted (others get `NotAllowlistedError.CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE`); new
integrations send them through the Data Manager API (`IngestionService.IngestEvents`,
https://developers.google.com/data-manager/api/reference/rest/v1/events/ingest). An account with
`use_click_conversions: true` (an allowlisted token) uses `ConversionUploadService` instead.

Each event carries its transaction id (our deterministic event id; `order_id` in the Google Ads
API), which Google de-duplicates per conversion action: a re-sent batch counts once. Google accepts
a conversion at most 90 days after its click. A lost deal is retracted with a conversion
adjustment (`ConversionAdjustmentUploadService`, RETRACTION by order id): the Data Manager API
documents no way to take an event back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.ads.datamanager_v1 import IngestionServiceClient
from google.ads.datamanager_v1.services.ingestion_service.transports.grpc import IngestionServiceGrpcTransport
from google.ads.datamanager_v1.types import (
    AdIdentifiers,
    Consent,
    ConsentStatus,
    Destination,
    Encoding,
    Event,
    EventSource,
    IngestEventsRequest,
    ProductAccount,
    UserData,
    UserIdentifier,
)
from google.ads.googleads.errors import GoogleAdsException
from google.api_core import exceptions as core_exceptions
from google.protobuf.timestamp_pb2 import Timestamp

from connectors.conversion_uploads import ConversionEvent, UploadResult, UploadTarget, age_problem
from connectors.google_ads.transport import GoogleAdsTransport, oauth_credentials

PLATFORM = "google_ads"
CLICK_LIMIT = timedelta(days=90)
MAX_EVENTS_PER_REQUEST = 2000  # IngestEvents' documented limit
NOT_ALLOWLISTED = ("this developer token is not allowlisted for offline click conversions in the Google Ads API "
                   "(CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE): remove use_click_conversions to upload through "
                   "the Data Manager API")
# Definite refusals: the request was read and not applied. Anything else may have landed.
_REFUSED = (core_exceptions.InvalidArgument, core_exceptions.PermissionDenied, core_exceptions.Unauthenticated,
            core_exceptions.FailedPrecondition, core_exceptions.NotFound)
_CONSENT = {"granted": ConsentStatus.CONSENT_GRANTED, "denied": ConsentStatus.CONSENT_DENIED,
            "unspecified": ConsentStatus.CONSENT_STATUS_UNSPECIFIED}


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


def _ads_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


class GoogleConversionUploader:
    """Uploads through the real `google-ads-datamanager` and `google-ads` clients; tests pass a
    channel factory pointing both at a local gRPC server."""

    platform = PLATFORM
    supports_retraction = True

    def __init__(self, channel_factory: Callable[[], grpc.Channel] | None = None, timeout: float = 60.0) -> None:
        self._channel_factory = channel_factory
        self._timeout = timeout
        self._ads: dict[tuple[tuple[str, str], ...], GoogleAdsTransport] = {}

    def too_old(self, event: ConversionEvent, now: datetime) -> str | None:
        return age_problem(event, now, since_click=CLICK_LIMIT, platform="Google")

    # -- Data Manager ----------------------------------------------------------------------

    def _ingestion(self, target: UploadTarget) -> IngestionServiceClient:
        if self._channel_factory is not None:
            return IngestionServiceClient(transport=IngestionServiceGrpcTransport(channel=self._channel_factory()))
        return IngestionServiceClient(credentials=oauth_credentials(target.credentials))

    def _destinations(self, target: UploadTarget, events: Sequence[ConversionEvent]) -> list[Destination]:
        login = (target.credentials.get("login_customer_id") or "").replace("-", "")
        return [Destination(reference=action,
                            operating_account=ProductAccount(account_type=ProductAccount.AccountType.GOOGLE_ADS,
                                                             account_id=target.platform_account_id),
                            login_account=ProductAccount(account_type=ProductAccount.AccountType.GOOGLE_ADS,
                                                         account_id=login) if login else None,
                            product_destination_id=action)
                for action in sorted({e.destination for e in events})]

    @staticmethod
    def _event(event: ConversionEvent) -> Event:
        identifiers = [UserIdentifier(email_address=event.email_sha256)] if event.email_sha256 else []
        identifiers += [UserIdentifier(phone_number=event.phone_sha256)] if event.phone_sha256 else []
        return Event(
            destination_references=[event.destination], transaction_id=event.event_id,
            event_timestamp=_timestamp(event.happened_at), event_source=EventSource.OTHER,
            ad_identifiers=AdIdentifiers(gclid=event.gclid or "", gbraid=event.gbraid or "",
                                         wbraid=event.wbraid or ""),
            user_data=UserData(user_identifiers=identifiers) if identifiers else None,
            consent=Consent(ad_user_data=_CONSENT[event.consent.ad_user_data],
                            ad_personalization=_CONSENT[event.consent.ad_personalization]),
            conversion_value=float(event.value) if event.value is not None else 0.0,
            currency=event.currency or "")

    def upload(self, target: UploadTarget, events: Sequence[ConversionEvent]) -> list[UploadResult]:
        if target.use_click_conversions:
            return self._upload_click_conversions(target, events)
        client = self._ingestion(target)
        results: list[UploadResult] = []
        for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
            chunk = events[start:start + MAX_EVENTS_PER_REQUEST]
            request = IngestEventsRequest(destinations=self._destinations(target, chunk), encoding=Encoding.HEX,
                                          events=[self._event(e) for e in chunk])
            try:
                # no SDK retry: an unanswered request is re-sent by the ledger, with the same transaction ids
                client.ingest_events(request=request, timeout=self._timeout, retry=None)
            except _REFUSED as error:
                results += [UploadResult(e.event_id, "rejected", f"Data Manager API: {error.message}") for e in chunk]
            except (core_exceptions.GoogleAPIError, grpc.RpcError) as error:
                results += [UploadResult(e.event_id, "unknown", f"no answer: {type(error).__name__}") for e in chunk]
            else:
                results += [UploadResult(e.event_id, "uploaded") for e in chunk]
        return results

    # -- Google Ads API (allowlisted tokens; retractions) ----------------------------------

    def _ads_service(self, target: UploadTarget, name: str) -> Any:
        key = tuple(sorted(target.credentials.items()))
        if key not in self._ads:
            self._ads[key] = GoogleAdsTransport(target.credentials, self._channel_factory)
        return self._ads[key].service(name)

    def _resource(self, target: UploadTarget, action: str) -> str:
        return f"customers/{target.platform_account_id}/conversionActions/{action}"

    def _upload_click_conversions(self, target: UploadTarget, events: Sequence[ConversionEvent]
                                  ) -> list[UploadResult]:
        service = self._ads_service(target, "ConversionUploadService")
        client = self._ads[tuple(sorted(target.credentials.items()))].client
        conversions = []
        for event in events:
            conversion = client.get_type("ClickConversion")
            conversion.conversion_action = self._resource(target, event.destination)
            conversion.conversion_date_time = _ads_time(event.happened_at)
            conversion.order_id = event.event_id
            click = next((name for name in ("gclid", "gbraid", "wbraid") if getattr(event, name)), None)
            if click:  # the Google Ads API takes exactly one of them
                setattr(conversion, click, getattr(event, click))
            if event.value is not None:
                conversion.conversion_value = float(event.value)
                conversion.currency_code = event.currency or ""
            if event.email_sha256:
                identifier = client.get_type("UserIdentifier")
                identifier.hashed_email = event.email_sha256
                conversion.user_identifiers.append(identifier)
            statuses = client.enums.ConsentStatusEnum
            conversion.consent.ad_user_data = getattr(statuses, event.consent.ad_user_data.upper())
            conversion.consent.ad_personalization = getattr(statuses, event.consent.ad_personalization.upper())
            conversions.append(conversion)
        return self._partial(events, lambda: service.upload_click_conversions(
            customer_id=target.platform_account_id, conversions=conversions, partial_failure=True,
            timeout=self._timeout), client)

    def retract(self, target: UploadTarget, events: Sequence[ConversionEvent], now: datetime
                ) -> list[UploadResult]:
        """Retract uploaded conversions (RETRACTION by order id: their value and count become zero)."""
        service = self._ads_service(target, "ConversionAdjustmentUploadService")
        client = self._ads[tuple(sorted(target.credentials.items()))].client
        adjustments = []
        for event in events:
            adjustment = client.get_type("ConversionAdjustment")
            adjustment.adjustment_type = client.enums.ConversionAdjustmentTypeEnum.RETRACTION
            adjustment.conversion_action = self._resource(target, event.destination)
            adjustment.order_id = event.event_id
            adjustment.adjustment_date_time = _ads_time(now)
            adjustments.append(adjustment)
        return self._partial(events, lambda: service.upload_conversion_adjustments(
            customer_id=target.platform_account_id, conversion_adjustments=adjustments, partial_failure=True,
            timeout=self._timeout), client)

    @staticmethod
    def _partial(events: Sequence[ConversionEvent], call: Callable[[], Any], client: Any) -> list[UploadResult]:
        """One partial-failure request: per-event errors from `partial_failure_error`."""
        try:
            response = call()
        except GoogleAdsException as error:
            codes = {str(e.error_code) for e in error.failure.errors}
            reason = (NOT_ALLOWLISTED if any("CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE" in c for c in codes)
                      else "; ".join(e.message for e in error.failure.errors))
            return [UploadResult(e.event_id, "rejected", f"Google Ads API: {reason}") for e in events]
        except (core_exceptions.GoogleAPIError, grpc.RpcError) as error:
            return [UploadResult(e.event_id, "unknown", f"no answer: {type(error).__name__}") for e in events]
        failed: dict[int, str] = {}
        failure_type = type(client.get_type("GoogleAdsFailure"))
        for detail in response.partial_failure_error.details:
            for failure in failure_type.deserialize(detail.value).errors:
                index = next((f.index for f in failure.location.field_path_elements if f.field_name in (
                    "conversions", "conversion_adjustments")), None)
                if index is not None:
                    failed[index] = failure.message
        return [UploadResult(e.event_id, "rejected", f"Google Ads API: {failed[i]}") if i in failed
                else UploadResult(e.event_id, "uploaded") for i, e in enumerate(events)]
