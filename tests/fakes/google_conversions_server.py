"""A fake of Google's offline-conversion endpoints: an in-process gRPC server speaking the real protos
of the Data Manager API (`google.ads.datamanager.v1.IngestionService/IngestEvents`) and of the
Google Ads API v26 (`ConversionUploadService/UploadClickConversions`,
`ConversionAdjustmentUploadService/UploadConversionAdjustments`). Binds 127.0.0.1 only.

Validated as Google does where we rely on it: destinations need a Google Ads operating account and
a conversion action of that customer (`conversion_actions`); at most 2,000 events; each event
names a destination it references, carries a timestamp (not in the future, at most 90 days after
its click when the gclid is known in `clicks`), an ad identifier or user data, user identifiers as
64 lowercase hex characters (HEX encoding), a currency with a value. A bad event fails the whole
request (INVALID_ARGUMENT). Events are de-duplicated per (customer, conversion action,
transaction id): `counted` holds one entry per conversion, however often it was sent.

The Google Ads API path refuses customers not in `allowlisted` with
`NotAllowlistedError.CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE`. Retractions (RETRACTION by
order id) need `partial_failure` and a counted conversion; a retracted one is kept in `retracted`.

Faults (`faults.inject(kind, match)` on request kinds `ingest`, `click_conversions`,
`adjustments`): drop_answer (applied, then UNAVAILABLE), unavailable (not applied).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.ads.datamanager_v1.types import IngestEventsRequest, IngestEventsResponse
from google.ads.googleads.v26.errors.types.errors import (
    ErrorCode,
    ErrorLocation,
    GoogleAdsError,
    GoogleAdsFailure,
)
from google.ads.googleads.v26.services.types import conversion_adjustment_upload_service as adjustments
from google.ads.googleads.v26.services.types import conversion_upload_service as uploads
from google.protobuf import any_pb2
from google.rpc import status_pb2

from tests.fakes.grpc_fake import Abort, GrpcFake

ADS = "google.ads.googleads.v26"
FAILURE_KEY = f"{ADS}.errors.googleadsfailure-bin"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
CLICK_LIMIT = timedelta(days=90)


def _ads_error(kind: str, value: str, message: str, field: str | None = None, index: int | None = None
               ) -> GoogleAdsError:
    error = GoogleAdsError(message=message, error_code=ErrorCode(**{kind: value}))
    if field is not None:
        error.location = ErrorLocation(field_path_elements=[ErrorLocation.FieldPathElement(field_name=field,
                                                                                            index=index)])
    return error


class FakeGoogleConversions(GrpcFake):
    def __init__(self, conversion_actions: Mapping[str, set[str]], *, clicks: Mapping[str, datetime] | None = None,
                 allowlisted: set[str] | None = None, now: Callable[[], datetime] | None = None) -> None:
        self.conversion_actions = {k: set(v) for k, v in conversion_actions.items()}
        self.clicks = dict(clicks or {})
        self.allowlisted = set(allowlisted or ())
        self.now = now or (lambda: datetime.now(UTC))
        super().__init__()
        # (customer, conversion action, transaction id) -> the event as first received
        self.counted: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.retracted: set[tuple[str, str, str]] = set()
        self._serve([
            grpc.method_handlers_generic_handler("google.ads.datamanager.v1.IngestionService", {
                "IngestEvents": grpc.unary_unary_rpc_method_handler(
                    self._handler("ingest", self._ingest), request_deserializer=IngestEventsRequest.deserialize,
                    response_serializer=IngestEventsResponse.serialize)}),
            grpc.method_handlers_generic_handler(f"{ADS}.services.ConversionUploadService", {
                "UploadClickConversions": grpc.unary_unary_rpc_method_handler(
                    self._handler("click_conversions", self._click_conversions),
                    request_deserializer=uploads.UploadClickConversionsRequest.deserialize,
                    response_serializer=uploads.UploadClickConversionsResponse.serialize)}),
            grpc.method_handlers_generic_handler(f"{ADS}.services.ConversionAdjustmentUploadService", {
                "UploadConversionAdjustments": grpc.unary_unary_rpc_method_handler(
                    self._handler("adjustments", self._adjustments),
                    request_deserializer=adjustments.UploadConversionAdjustmentsRequest.deserialize,
                    response_serializer=adjustments.UploadConversionAdjustmentsResponse.serialize)}),
        ])

    def _trailing_metadata(self, abort: Abort) -> tuple[tuple[str, Any], ...]:
        metadata: list[tuple[str, Any]] = [("request-id", "fake-request")]
        if abort.failure is not None:
            metadata.append((FAILURE_KEY, GoogleAdsFailure.serialize(abort.failure)))
        return tuple(metadata)

    # -- Data Manager ----------------------------------------------------------------------

    def _ingest(self, request: Any) -> IngestEventsResponse:
        def invalid(reason: str, message: str) -> Abort:
            return Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{reason}: {message}")

        if not request.destinations or not request.events:
            raise invalid("REQUIRED_FIELD_MISSING", "destinations and events are required")
        if len(request.events) > 2000:
            raise invalid("TOO_MANY_ELEMENTS", "at most 2000 events per request")
        by_reference: dict[str, tuple[str, str]] = {}
        for destination in request.destinations:
            account = destination.operating_account
            if account.account_type.name != "GOOGLE_ADS" or not account.account_id.isdigit():
                raise invalid("INVALID_DESTINATION", "operating_account must be a Google Ads customer id")
            if destination.product_destination_id not in self.conversion_actions.get(account.account_id, set()):
                raise invalid("INVALID_DESTINATION", f"conversion action {destination.product_destination_id} "
                                                     f"not found in customer {account.account_id}")
            if destination.reference in by_reference:
                raise invalid("DUPLICATE_DESTINATION_REFERENCE", destination.reference)
            by_reference[destination.reference] = (account.account_id, destination.product_destination_id)
        now = self.now()
        accepted: list[tuple[tuple[str, str, str], dict[str, Any]]] = []
        for index, event in enumerate(request.events):
            where = f"events[{index}]"
            references = list(event.destination_references) or (list(by_reference) if len(by_reference) == 1 else [])
            if not references or any(r not in by_reference for r in references):
                raise invalid("INVALID_DESTINATION", f"{where}: destination_references must name a destination")
            if not event.transaction_id:
                raise invalid("REQUIRED_FIELD_MISSING", f"{where}.transaction_id")
            if "event_timestamp" not in event:
                raise invalid("REQUIRED_FIELD_MISSING", f"{where}.event_timestamp")
            at = event.event_timestamp.astimezone(UTC) if event.event_timestamp.tzinfo else \
                event.event_timestamp.replace(tzinfo=UTC)
            if at > now + timedelta(minutes=5):
                raise invalid("EVENT_TIME_INVALID", f"{where}: event_timestamp is in the future")
            gclid = event.ad_identifiers.gclid
            if gclid in self.clicks and at - self.clicks[gclid] > CLICK_LIMIT:
                raise invalid("EVENT_TIME_INVALID", f"{where}: more than 90 days after the click")
            identifiers = list(event.user_data.user_identifiers)
            if not (gclid or event.ad_identifiers.gbraid or event.ad_identifiers.wbraid or identifiers):
                raise invalid("REQUIRED_FIELD_MISSING", f"{where}: an ad identifier or user data is required")
            for identifier in identifiers:
                value = identifier.email_address or identifier.phone_number
                if request.encoding.name == "HEX" and not HEX64.match(value):
                    raise invalid("INVALID_HEX_ENCODING", f"{where}: user identifiers must be SHA-256 hex")
            if event.conversion_value and not re.fullmatch(r"[A-Z]{3}", event.currency):
                raise invalid("INVALID_CURRENCY_CODE", f"{where}: a value needs a currency")
            for reference in references:
                customer, action = by_reference[reference]
                accepted.append(((customer, action, event.transaction_id), {
                    "at": at, "gclid": gclid, "value": event.conversion_value, "currency": event.currency,
                    "ad_user_data": event.consent.ad_user_data.name,
                    "ad_personalization": event.consent.ad_personalization.name,
                    "emails": [i.email_address for i in identifiers if i.email_address], "via": "data_manager"}))
        for key, received in accepted:
            self.counted.setdefault(key, received)
        return IngestEventsResponse(request_id=f"req-{len(self.requests)}")

    # -- Google Ads API --------------------------------------------------------------------

    def _not_allowlisted(self, customer: str) -> None:
        if customer not in self.allowlisted:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "Request contains an invalid argument.", GoogleAdsFailure(
                errors=[_ads_error("not_allowlisted_error", "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE",
                                   "Customer is not allowlisted for accessing this feature.")]))

    @staticmethod
    def _partial(errors: dict[int, str], field: str) -> status_pb2.Status:
        kind, value = (("conversion_adjustment_upload_error", "CONVERSION_NOT_FOUND")
                       if field == "conversion_adjustments" else ("conversion_upload_error", "EVENT_NOT_FOUND"))
        failure = GoogleAdsFailure(errors=[_ads_error(kind, value, message, field, index)
                                           for index, message in errors.items()])
        detail = any_pb2.Any(type_url=f"type.googleapis.com/{ADS}.errors.GoogleAdsFailure",
                             value=GoogleAdsFailure.serialize(failure))
        return status_pb2.Status(code=3, message=next(iter(errors.values())), details=[detail])

    def _action_of(self, customer: str, resource: str) -> str | None:
        match = re.fullmatch(rf"customers/{customer}/conversionActions/(\d+)", resource)
        return match.group(1) if match and match.group(1) in self.conversion_actions.get(customer, set()) else None

    def _click_conversions(self, request: Any) -> Any:
        customer = request.customer_id
        self._not_allowlisted(customer)
        if not request.partial_failure:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "partial_failure must be true")
        errors: dict[int, str] = {}
        response = uploads.UploadClickConversionsResponse()
        for index, conversion in enumerate(request.conversions):
            action = self._action_of(customer, conversion.conversion_action)
            if action is None:
                errors[index] = f"unknown conversion action {conversion.conversion_action}"
            elif not (conversion.gclid or conversion.gbraid or conversion.wbraid or conversion.user_identifiers):
                errors[index] = "a click id or user identifier is required"
            else:
                self.counted.setdefault((customer, action, conversion.order_id), {
                    "gclid": conversion.gclid, "value": conversion.conversion_value, "via": "google_ads",
                    "ad_user_data": conversion.consent.ad_user_data.name})
            response.results.append(uploads.ClickConversionResult())
        if errors:
            response.partial_failure_error = self._partial(errors, "conversions")
        return response

    def _adjustments(self, request: Any) -> Any:
        customer = request.customer_id
        if not request.partial_failure:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "partial_failure must be true")
        errors: dict[int, str] = {}
        response = adjustments.UploadConversionAdjustmentsResponse()
        for index, adjustment in enumerate(request.conversion_adjustments):
            action = self._action_of(customer, adjustment.conversion_action)
            key = (customer, action or "", adjustment.order_id)
            if adjustment.adjustment_type.name != "RETRACTION":
                errors[index] = "only retractions are supported by this fake"
            elif action is None or key not in self.counted:
                errors[index] = "CONVERSION_NOT_FOUND: no conversion with this order id"
            else:
                self.retracted.add(key)
            response.results.append(adjustments.ConversionAdjustmentResult())
        if errors:
            response.partial_failure_error = self._partial(errors, "conversion_adjustments")
        return response
