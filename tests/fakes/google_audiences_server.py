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
from collections.abc import Mapping
from typing import Any

import grpc
from google.ads.datamanager_v1.types import (
    IngestAudienceMembersRequest,
    IngestAudienceMembersResponse,
    RemoveAudienceMembersRequest,
    RemoveAudienceMembersResponse,
)

from tests.fakes.grpc_fake import Abort, GrpcFake

HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_MEMBERS = 10_000


class FakeGoogleAudiences(GrpcFake):
    def __init__(self, user_lists: Mapping[str, set[str]], *, denied: set[str] | None = None) -> None:
        self.user_lists = {k: set(v) for k, v in user_lists.items()}
        self.denied = set(denied or ())
        super().__init__()
        self.members: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self.consent: dict[tuple[str, str], tuple[str, str]] = {}  # the last ingest's request-level consent
        self._serve([grpc.method_handlers_generic_handler(
            "google.ads.datamanager.v1.IngestionService", {
                "IngestAudienceMembers": grpc.unary_unary_rpc_method_handler(
                    self._handler("ingest_members", self._ingest),
                    request_deserializer=IngestAudienceMembersRequest.deserialize,
                    response_serializer=IngestAudienceMembersResponse.serialize),
                "RemoveAudienceMembers": grpc.unary_unary_rpc_method_handler(
                    self._handler("remove_members", self._remove),
                    request_deserializer=RemoveAudienceMembersRequest.deserialize,
                    response_serializer=RemoveAudienceMembersResponse.serialize)})])

    def _lists(self, request: Any) -> list[tuple[str, str]]:
        if not request.destinations or not request.audience_members:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "REQUIRED_FIELD_MISSING: destinations and audience_members")
        if len(request.audience_members) > MAX_MEMBERS:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"TOO_MANY_ELEMENTS: at most {MAX_MEMBERS} members")
        lists = []
        for destination in request.destinations:
            account = destination.operating_account
            if account.account_type.name != "GOOGLE_ADS" or not account.account_id.isdigit():
                raise Abort(grpc.StatusCode.INVALID_ARGUMENT,
                             "INVALID_DESTINATION: operating_account must be a Google Ads customer id")
            if account.account_id in self.denied:
                raise Abort(grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED: the caller cannot access "
                                                                f"customer {account.account_id}")
            if destination.product_destination_id not in self.user_lists.get(account.account_id, set()):
                raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"INVALID_DESTINATION: user list "
                             f"{destination.product_destination_id} not found in customer {account.account_id}")
            lists.append((account.account_id, destination.product_destination_id))
        return lists

    def _identifiers(self, request: Any) -> list[tuple[str, str]]:
        found = []
        for index, member in enumerate(request.audience_members):
            identifiers = list(member.user_data.user_identifiers)
            if not identifiers:
                raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"audience_members[{index}]: user_data is required")
            for identifier in identifiers:
                kind = "email" if identifier.email_address else "phone"
                value = identifier.email_address or identifier.phone_number
                if request.encoding.name != "HEX" or not HEX64.match(value):
                    raise Abort(grpc.StatusCode.INVALID_ARGUMENT,
                                 f"INVALID_HEX_ENCODING: audience_members[{index}] must be SHA-256 hex")
                found.append((kind, value))
        return found

    def _ingest(self, request: Any) -> IngestAudienceMembersResponse:
        lists = self._lists(request)
        if request.terms_of_service.customer_match_terms_of_service_status.name != "ACCEPTED":
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT,
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
