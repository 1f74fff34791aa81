"""Matched audiences on LinkedIn: `POST /rest/dmpSegments/{id}/users` with `X-RestLi-Method:
BATCH_CREATE`, each element `{"action": "ADD"|"REMOVE", "userIds": [{"idType": "SHA256_EMAIL",
"idValue": <hex>}]}` (https://learn.microsoft.com/en-us/linkedin/marketing/matched-audiences/create-and-manage-segment-users).

A DMP segment is not targeted by its own id: LinkedIn builds an ad segment of it, named in the
segment's `destinations[].destinationSegmentId` (`urn:li:adSegment:N`, destination LINKEDIN;
https://learn.microsoft.com/en-us/linkedin/marketing/matched-audiences/create-and-manage-segment-destinations).
`destination` reads it (`GET /rest/dmpSegments/{id}`, the same permission), so the sync can record
the id a prospecting campaign excludes; None until LinkedIn has built it.

The endpoint needs the `rw_dmp_segments` permission, which LinkedIn grants only to approved partners
(it is not part of the Marketing API program): an app without it is answered 403, reported as
`not_permitted`, and the sync is skipped without failing anything. Emails only; a re-sent batch
changes nothing (membership is a set).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from connectors.audience_members import AudienceTarget, BatchAnswer, MemberKey, Operation
from connectors.linkedin.reports import LinkedInAccount
from connectors.linkedin.transport import HttpFailure, RestClient

PLATFORM = "linkedin"
MAX_MEMBERS_PER_REQUEST = 5_000
NOT_PERMITTED = ("LinkedIn refused DMP segment users (HTTP 403): the app lacks LinkedIn's partner permission "
                 "rw_dmp_segments; LinkedIn audience sync is skipped until LinkedIn grants it")


class LinkedInAudienceSyncer:
    platform = PLATFORM
    max_batch = MAX_MEMBERS_PER_REQUEST

    def __init__(self, http: RestClient) -> None:
        self._http = http

    def send(self, target: AudienceTarget, operation: Operation, batch_id: str,
             members: Sequence[MemberKey]) -> BatchAnswer:
        action = "ADD" if operation == "add" else "REMOVE"
        elements = [{"action": action, "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256}]}
                    for kind, sha256 in members if kind == "email"]
        if not elements:
            return BatchAnswer("applied")
        account = LinkedInAccount(target.account_id, target.platform_account_id, target.account_id, "UTC",
                                  target.credentials)
        try:
            answer, _headers = self._http.send(account, "POST", f"/rest/dmpSegments/{target.audience_id}/users",
                                               json_body={"elements": elements},
                                               headers={"X-RestLi-Method": "BATCH_CREATE"})
        except HttpFailure as error:
            if error.status == 403:
                return BatchAnswer("not_permitted", NOT_PERMITTED)
            return BatchAnswer("unknown" if error.status >= 500 else "rejected", f"DMP segment users: {error}")
        except httpx.HTTPError as error:
            return BatchAnswer("unknown", f"no answer: {type(error).__name__}")
        statuses = [int(e.get("status") or 0) for e in (answer or {}).get("elements") or []]
        if len(statuses) == len(elements) and all(s in (200, 201) for s in statuses):
            return BatchAnswer("applied")
        if any(400 <= s < 500 for s in statuses):
            return BatchAnswer("rejected", "DMP segment users: LinkedIn refused some members")
        return BatchAnswer("unknown", "DMP segment users: no status for every member")

    def destination(self, target: AudienceTarget) -> str | None:
        """The N of the ad segment LinkedIn built of the DMP segment; None when there is none yet, or
        the segment cannot be read (no permission, no answer): nothing is recorded then."""
        account = LinkedInAccount(target.account_id, target.platform_account_id, target.account_id, "UTC",
                                  target.credentials)
        try:
            answer, _headers = self._http.send(account, "GET", f"/rest/dmpSegments/{target.audience_id}")
        except (HttpFailure, httpx.HTTPError):
            return None
        for destination in (answer or {}).get("destinations") or []:
            urn = str(destination.get("destinationSegmentId") or "")
            if destination.get("destination") == "LINKEDIN" and urn.startswith("urn:li:adSegment:"):
                return urn.rsplit(":", 1)[-1]
        return None

    def received(self, target: AudienceTarget, operation: Operation, batch_id: str,
                 members: Sequence[MemberKey]) -> bool | None:
        return None  # no read-back of a batch whose answer was lost: it is re-sent (membership is a set)
