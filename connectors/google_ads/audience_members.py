"""Customer Match audiences through the Data Manager API (`IngestionService.IngestAudienceMembers`
and `RemoveAudienceMembers`, https://developers.google.com/data-manager/api/reference/rest/v1/audienceMembers;
the Google Ads API's OfflineUserDataJobService refuses new adopters since April 2026).

The destination is the Google Ads customer (`operating_account`) and the Customer Match user list
(`product_destination_id`); at most 10,000 members per request, as documented. Identifiers are
SHA-256 hex (`Encoding.HEX`). The request states that the advertiser accepted the Customer Match
terms, and request-level consent (`ad_user_data`, `ad_personalization` granted): only members with
marketing consent are ever sent. The API has no request id of ours to de-duplicate on, but membership is a set: a batch re-sent
after a lost answer adds (or removes) nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc
from google.ads.datamanager_v1 import IngestionServiceClient
from google.ads.datamanager_v1.services.ingestion_service.transports.grpc import IngestionServiceGrpcTransport
from google.ads.datamanager_v1.types import (
    AudienceMember,
    Consent,
    ConsentStatus,
    Destination,
    Encoding,
    IngestAudienceMembersRequest,
    ProductAccount,
    RemoveAudienceMembersRequest,
    TermsOfService,
    TermsOfServiceStatus,
    UserData,
    UserIdentifier,
)
from google.api_core import exceptions as core_exceptions

from connectors.audience_members import AudienceTarget, BatchAnswer, MemberKey, Operation
from connectors.google_ads.transport import oauth_credentials

PLATFORM = "google_ads"
MAX_MEMBERS_PER_REQUEST = 10_000
# only members who gave marketing consent are ever sent (agent/audiences/plan.py): said for the EEA
GRANTED = Consent(ad_user_data=ConsentStatus.CONSENT_GRANTED, ad_personalization=ConsentStatus.CONSENT_GRANTED)
_REFUSED = (core_exceptions.InvalidArgument, core_exceptions.FailedPrecondition, core_exceptions.NotFound,
            core_exceptions.Unauthenticated)


def _member(kind: str, sha256: str) -> AudienceMember:
    identifier = UserIdentifier(email_address=sha256) if kind == "email" else UserIdentifier(phone_number=sha256)
    return AudienceMember(user_data=UserData(user_identifiers=[identifier]))


class GoogleAudienceSyncer:
    platform = PLATFORM
    max_batch = MAX_MEMBERS_PER_REQUEST

    def __init__(self, channel_factory: Callable[[], grpc.Channel] | None = None, timeout: float = 60.0) -> None:
        self._channel_factory = channel_factory
        self._timeout = timeout

    def _client(self, target: AudienceTarget) -> IngestionServiceClient:
        if self._channel_factory is not None:
            return IngestionServiceClient(transport=IngestionServiceGrpcTransport(channel=self._channel_factory()))
        return IngestionServiceClient(credentials=oauth_credentials(target.credentials))

    @staticmethod
    def _destination(target: AudienceTarget) -> Destination:
        login = (target.credentials.get("login_customer_id") or "").replace("-", "")
        ads = ProductAccount.AccountType.GOOGLE_ADS
        return Destination(operating_account=ProductAccount(account_type=ads, account_id=target.platform_account_id),
                           login_account=ProductAccount(account_type=ads, account_id=login) if login else None,
                           product_destination_id=target.audience_id)

    def send(self, target: AudienceTarget, operation: Operation, batch_id: str,
             members: Sequence[MemberKey]) -> BatchAnswer:
        client = self._client(target)
        audience_members = [_member(kind, sha256) for kind, sha256 in members]
        try:
            # no SDK retry: an unanswered batch stays pending in our ledger and is re-sent from there
            if operation == "add":
                client.ingest_audience_members(request=IngestAudienceMembersRequest(
                    destinations=[self._destination(target)], audience_members=audience_members,
                    encoding=Encoding.HEX, consent=GRANTED, terms_of_service=TermsOfService(
                        customer_match_terms_of_service_status=TermsOfServiceStatus.ACCEPTED)),
                    timeout=self._timeout, retry=None)
            else:
                client.remove_audience_members(request=RemoveAudienceMembersRequest(
                    destinations=[self._destination(target)], audience_members=audience_members,
                    encoding=Encoding.HEX), timeout=self._timeout, retry=None)
        except core_exceptions.PermissionDenied as error:
            return BatchAnswer("not_permitted", f"Data Manager API: {error.message}")
        except _REFUSED as error:
            return BatchAnswer("rejected", f"Data Manager API: {error.message}")
        except (core_exceptions.GoogleAPIError, grpc.RpcError) as error:
            return BatchAnswer("unknown", f"no answer: {type(error).__name__}")
        return BatchAnswer("applied")

    def received(self, target: AudienceTarget, operation: Operation, batch_id: str,
                 members: Sequence[MemberKey]) -> bool | None:
        return None  # no read-back of a batch whose answer was lost: it is re-sent (membership is a set)
