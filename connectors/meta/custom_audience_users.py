"""Customer-file Custom Audiences on Meta: `POST` / `DELETE /{custom_audience_id}/users` through the
facebook-business SDK (`CustomAudience.create_user` / `delete_users`), on the account's paced API.

The payload is a multi-key one, `{"schema": ["EMAIL", "PHONE"], "data": [[<email sha256>, ""], ["",
<phone sha256>], ...]}` (hashed values; a key a record lacks is an empty string), one record per
identifier, at most 10,000 records per request, as the Custom Audience Users reference documents
(https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users). Each request
carries a `session` whose `session_id` is derived from our batch id (one batch, `batch_seq` 1, the
last): the upload sessions Meta keeps then name our batches, and before a batch whose answer was
lost is sent again, `GET /{custom_audience_id}/sessions?session_id=` (the Custom Audience Session
reference: `session_id`, `num_received`, `stage`) says whether Meta already received it. Emails and
phones are sent: a phone as `phonedig`, the SHA-256 of its digits with the country code and no `+`,
the form Meta's PHONE key takes (the facebook-business SDK's `normalize_key` keeps digits only),
hashed at import next to our E.164 hash. Removal sends the same keys. Meta answers `num_received`
and `num_invalid_entries`; a re-sent batch changes nothing (membership is a set).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import requests
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.exceptions import FacebookRequestError

from connectors.audience_members import AudienceTarget, BatchAnswer, BatchStatus, MemberKey, Operation
from connectors.meta.api import build_api
from connectors.meta.usage import UsageThrottle

PLATFORM = "meta"
MAX_MEMBERS_PER_REQUEST = 10_000
PERMISSION_CODES = (10, 200, 294)  # Graph API permission errors: the app may not manage this audience
SCHEMA = ["EMAIL", "PHONE"]  # CustomAudience.Schema.MultiKeySchema.email / .phone, values pre-hashed
COLUMN = {"email": 0, "phonedig": 1}  # our member kind -> its key's position in SCHEMA


def records(members: Sequence[MemberKey]) -> list[list[str]]:
    """One multi-key record per identifier Meta matches: its hash under its key, the other key empty."""
    rows = []
    for kind, sha256 in members:
        if kind in COLUMN:
            row = [""] * len(SCHEMA)
            row[COLUMN[kind]] = sha256
            rows.append(row)
    return rows


def session_id_of(batch_id: str) -> int:
    """Meta's `session_id` is a 64-bit integer: the first 15 hex digits of our batch id."""
    return int(batch_id[:15], 16)


class MetaAudienceSyncer:
    platform = PLATFORM
    max_batch = MAX_MEMBERS_PER_REQUEST

    def __init__(self, throttle: UsageThrottle, graph_url: str | None = None, timeout: float | None = None) -> None:
        self._throttle = throttle
        self._graph_url = graph_url
        self._timeout = timeout

    def send(self, target: AudienceTarget, operation: Operation, batch_id: str,
             members: Sequence[MemberKey]) -> BatchAnswer:
        hashes = records(members)
        if not hashes:
            return BatchAnswer("applied")
        api = build_api(target.credentials, self._throttle, target.account_id, self._graph_url, self._timeout)
        audience = CustomAudience(target.audience_id, api=api)
        params = {"payload": {"schema": SCHEMA, "is_raw": True, "data": hashes},
                  "session": {"session_id": session_id_of(batch_id), "batch_seq": 1, "last_batch_flag": True,
                              "estimated_num_total": len(hashes)}}
        try:
            answer: Mapping[str, object] = (audience.create_user(params=params) if operation == "add"
                                            else audience.delete_users(params=params))
        except FacebookRequestError as error:
            if (error.http_status() or 0) >= 500 or error.api_transient_error():
                return BatchAnswer("unknown", f"Custom Audience users: {error.api_error_message()}")
            status: BatchStatus = "not_permitted" if error.api_error_code() in PERMISSION_CODES else "rejected"
            return BatchAnswer(status, f"Custom Audience users: {error.api_error_message()}")
        except requests.RequestException as error:
            return BatchAnswer("unknown", f"no answer: {type(error).__name__}")
        received = int(str(answer.get("num_received") or 0))
        if received != len(hashes):
            return BatchAnswer("unknown", f"Meta received {received} of {len(hashes)} records")
        return BatchAnswer("applied")

    def received(self, target: AudienceTarget, operation: Operation, batch_id: str,
                 members: Sequence[MemberKey]) -> bool | None:
        expected = len(records(members))
        api = build_api(target.credentials, self._throttle, target.account_id, self._graph_url, self._timeout)
        try:
            sessions = CustomAudience(target.audience_id, api=api).get_sessions(
                fields=["session_id", "num_received", "stage"], params={"session_id": session_id_of(batch_id)})
        except (FacebookRequestError, requests.RequestException):
            return None
        for session in sessions:
            if str(session.get("session_id")) == str(session_id_of(batch_id)):
                return int(str(session.get("num_received") or 0)) >= expected
        return False
