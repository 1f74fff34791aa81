"""A fake of the Data Manager API's audience members endpoints: an in-process gRPC server speaking
the real protos (`google.ads.datamanager.v1.IngestionService/IngestAudienceMembers` and
`RemoveAudienceMembers`, https://developers.google.com/data-manager/api/reference/rest/v1/audienceMembers).
Binds 127.0.0.1 only.

Validated as documented where we rely on it: one or more destinations, each a Google Ads
operating account (digits) and a Customer Match user list of that customer (`user_lists`); at most
10,000 members per request; each member's user identifiers SHA-256 hex (HEX encoding); an ingest
states the Customer Match terms of service as accepted. A bad request fails whole
(INVALID_ARGUMENT); a customer in `denied` is answered PERMISSION_DENIED. `members` holds each
list's members as a set, as Google does: adding a member twice, or removing an absent one, changes
nothing. Faults (`faults.inject(kind)` on `ingest_members`, `remove_members`): drop_answer (applied,
then UNAVAILABLE), unavailable (not applied).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from typing import Any

import grpc
from google.ads.datamanager_v1.types import (
    IngestAudienceMembersRequest,
    IngestAudienceMembersResponse,
    RemoveAudienceMembersRequest,
    RemoveAudienceMembersResponse,
)

from tests.fakes.platform_fixtures import Faults, after_write

HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_MEMBERS = 10_000


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class FakeGoogleAudiences:
    def __init__(self, user_lists: Mapping[str, set[str]], *, denied: set[str] | None = None) -> None:
        self.user_lists = {k: set(v) for k, v in user_lists.items()}
        self.denied = set(denied or ())
        self.faults = Faults()
        self.requests: list[tuple[str, Any]] = []
        self.members: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self.consent: dict[tuple[str, str], tuple[str, str]] = {}  # the last ingest's request-level consent
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "google.ads.datamanager.v1.IngestionService", {
                "IngestAudienceMembers": grpc.unary_unary_rpc_method_handler(
                    self._handler("ingest_members", self._ingest),
                    request_deserializer=IngestAudienceMembersRequest.deserialize,
                    response_serializer=IngestAudienceMembersResponse.serialize),
                "RemoveAudienceMembers": grpc.unary_unary_rpc_method_handler(
                    self._handler("remove_members", self._remove),
                    request_deserializer=RemoveAudienceMembersRequest.deserialize,
                    response_serializer=RemoveAudienceMembersResponse.serialize)})])
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def __enter__(self) -> FakeGoogleAudiences:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop(grace=None)

    def channel_factory(self) -> Callable[[], grpc.Channel]:
        return lambda: grpc.insecure_channel(f"127.0.0.1:{self.port}")

    def sent(self, kind: str) -> int:
        return sum(1 for k, _ in self.requests if k == kind)

    def _handler(self, kind: str, work: Callable[[Any], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            self.requests.append((kind, request))
            fault = self.faults.take(kind)
            try:
                if fault is not None and fault.kind == "unavailable":
                    raise _Abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable")
                with self._lock:
                    response = work(request)
                if after_write(fault):
                    raise _Abort(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer")
                return response
            except _Abort as abort:
                context.abort(abort.code, abort.message)
                raise AssertionError("unreachable") from None
        return handle

    def _lists(self, request: Any) -> list[tuple[str, str]]:
        if not request.destinations or not request.audience_members:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "REQUIRED_FIELD_MISSING: destinations and audience_members")
        if len(request.audience_members) > MAX_MEMBERS:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"TOO_MANY_ELEMENTS: at most {MAX_MEMBERS} members")
        lists = []
        for destination in request.destinations:
            account = destination.operating_account
            if account.account_type.name != "GOOGLE_ADS" or not account.account_id.isdigit():
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                             "INVALID_DESTINATION: operating_account must be a Google Ads customer id")
            if account.account_id in self.denied:
                raise _Abort(grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED: the caller cannot access "
                                                                f"customer {account.account_id}")
            if destination.product_destination_id not in self.user_lists.get(account.account_id, set()):
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"INVALID_DESTINATION: user list "
                             f"{destination.product_destination_id} not found in customer {account.account_id}")
            lists.append((account.account_id, destination.product_destination_id))
        return lists

    def _identifiers(self, request: Any) -> list[tuple[str, str]]:
        found = []
        for index, member in enumerate(request.audience_members):
            identifiers = list(member.user_data.user_identifiers)
            if not identifiers:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"audience_members[{index}]: user_data is required")
            for identifier in identifiers:
                kind = "email" if identifier.email_address else "phone"
                value = identifier.email_address or identifier.phone_number
                if request.encoding.name != "HEX" or not HEX64.match(value):
                    raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                                 f"INVALID_HEX_ENCODING: audience_members[{index}] must be SHA-256 hex")
                found.append((kind, value))
        return found

    def _ingest(self, request: Any) -> IngestAudienceMembersResponse:
        lists = self._lists(request)
        if request.terms_of_service.customer_match_terms_of_service_status.name != "ACCEPTED":
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         "TERMS_OF_SERVICE_NOT_ACCEPTED: Customer Match terms of service must be accepted")
        identifiers = self._identifiers(request)
        for key in lists:
            self.members.setdefault(key, set()).update(identifiers)
            self.consent[key] = (request.consent.ad_user_data.name, request.consent.ad_personalization.name)
        return IngestAudienceMembersResponse(request_id=f"req-{len(self.requests)}")

    def _remove(self, request: Any) -> RemoveAudienceMembersResponse:
        lists = self._lists(request)
        identifiers = self._identifiers(request)
        for key in lists:
            self.members.setdefault(key, set()).difference_update(identifiers)
        return RemoveAudienceMembersResponse(request_id=f"req-{len(self.requests)}")
