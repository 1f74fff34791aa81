"""Fakes of Meta's Conversions API and LinkedIn's Conversions API: local HTTP servers speaking their
wire formats, validating what the real APIs validate where we rely on it, and recording what they
counted. Bind 127.0.0.1 only.

Meta (`POST /v26.0/{dataset_id}/events`, form-encoded, `data` a JSON list of events): the access
token and a known dataset; each event needs `event_name`, an integer `event_time` at most 7 days
old (one older event fails the whole request, as Meta documents), `action_source`, and `user_data`
with a match key; `em` must be SHA-256 hex. Events are de-duplicated by (dataset, event_name,
event_id): `counted` holds one entry each. Answers `{"events_received": N, "fbtrace_id": ...}`.

LinkedIn (`POST /rest/conversionEvents` with `X-RestLi-Method: BATCH_CREATE`): bearer token, an
active `LinkedIn-Version`, Rest.li 2.0.0; each element needs a known `conversion` rule urn,
`conversionHappenedAt` (epoch ms, not in the future, at most 90 days ago), `user.userIds` of known
types (SHA256_EMAIL as SHA-256 hex), and is answered per element (201, or 400 with a message).
De-duplicated by (rule, eventId).

Faults (`faults.inject(kind)`): drop_answer (applied, then the connection closes unanswered),
server_error (500, not applied).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.json_http_fake import Answer, JsonHttpFake
from tests.fakes.linkedin_server import ACTIVE_VERSIONS

HEX64 = re.compile(r"^[0-9a-f]{64}$")
META_MATCH_KEYS = ("em", "ph", "fbc", "fbp", "external_id", "client_ip_address", "lead_id")
LINKEDIN_ID_TYPES = {"SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "ACXIOM_ID", "ORACLE_MOAT_ID"}


class _HttpFake(JsonHttpFake):
    """One POST endpoint; `requests` logs the bodies, `counted` the events counted once."""

    server_error = {"error": {"message": "Internal error", "code": 2, "is_transient": True}}

    def __init__(self, now: Callable[[], datetime] | None) -> None:
        super().__init__()
        self.now = now or (lambda: datetime.now(UTC))
        self.counted: dict[tuple[str, str, str], dict[str, Any]] = {}


class FakeMetaConversions(_HttpFake):
    """`datasets`: the dataset (pixel) ids the token may send to."""

    def __init__(self, datasets: Collection[str], *, access_token: str = "TOKEN",
                 now: Callable[[], datetime] | None = None) -> None:
        super().__init__(now)
        self.datasets, self.access_token = set(datasets), access_token

    @staticmethod
    def _invalid(message: str, subcode: int = 2804003) -> Answer:
        return Answer(400, {"error": {"message": f"Invalid parameter: {message}", "type": "OAuthException",
                                       "code": 100, "error_subcode": subcode, "fbtrace_id": "fake"}})

    def handle(self, http: BaseHTTPRequestHandler, method: str, body: str) -> tuple[int, dict[str, Any]]:
        match = re.fullmatch(r"/v\d+\.\d+/(\d+)/events", urlsplit(http.path).path)
        form = {k: v[-1] for k, v in parse_qs(urlsplit(http.path).query).items()}
        form.update({k: v[-1] for k, v in parse_qs(body).items()})
        if form.get("access_token") != self.access_token:
            raise Answer(400, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                                          "code": 190, "fbtrace_id": "fake"}})
        if match is None or match.group(1) not in self.datasets:
            raise Answer(400, {"error": {"message": "Unsupported post request.", "type": "GraphMethodException",
                                          "code": 100, "error_subcode": 33, "fbtrace_id": "fake"}})
        events = [json.loads(e) if isinstance(e, str) else e for e in json.loads(form.get("data") or "[]")]
        if not events:
            raise self._invalid("data is required")
        now = self.now().timestamp()
        for index, event in enumerate(events):
            for field in ("event_name", "event_time", "action_source", "user_data"):
                if not event.get(field):
                    raise self._invalid(f"data[{index}].{field} is required")
            if not isinstance(event["event_time"], int):
                raise self._invalid(f"data[{index}].event_time must be a Unix timestamp in seconds")
            if now - event["event_time"] > 7 * 86400:
                raise self._invalid(f"data[{index}]: event_time is more than 7 days in the past")
            if event["event_time"] > now + 60:
                raise self._invalid(f"data[{index}]: event_time is in the future")
            user = event["user_data"]
            if not any(user.get(key) for key in META_MATCH_KEYS):
                raise self._invalid(f"data[{index}].user_data has no customer information parameter")
            if any(not HEX64.match(value) for value in user.get("em") or []):
                raise self._invalid(f"data[{index}].user_data.em must be SHA-256 hashed")
        dataset = match.group(1)
        for event in events:
            key = (dataset, event["event_name"], str(event.get("event_id") or id(event)))
            self.counted.setdefault(key, event)
        return 200, {"events_received": len(events), "messages": [], "fbtrace_id": "fake"}


class FakeLinkedInConversions(_HttpFake):
    """`rules`: the conversion rule urns of the token's ad accounts."""

    def __init__(self, rules: Collection[str], *, access_token: str = "TOKEN",
                 now: Callable[[], datetime] | None = None) -> None:
        super().__init__(now)
        self.rules, self.access_token = set(rules), access_token

    def handle(self, http: BaseHTTPRequestHandler, method: str, body: str) -> tuple[int, dict[str, Any]]:
        def refuse(status: int, message: str) -> Answer:
            return Answer(status, {"status": status, "message": message})

        if urlsplit(http.path).path != "/rest/conversionEvents":
            raise refuse(404, "no such resource")
        if (http.headers.get("Authorization") or "") != f"Bearer {self.access_token}":
            raise refuse(401, "Invalid access token")
        if (http.headers.get("LinkedIn-Version") or "") not in ACTIVE_VERSIONS:
            raise refuse(426, "Requested version is not active")
        if http.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            raise refuse(400, "Rest.li protocol 2.0.0 required")
        if http.headers.get("X-RestLi-Method") != "BATCH_CREATE":
            raise refuse(400, "a list of elements needs X-RestLi-Method: BATCH_CREATE")
        statuses = [self._element(element) for element in json.loads(body).get("elements") or []]
        return 200, {"elements": statuses}

    def _element(self, element: dict[str, Any]) -> dict[str, Any]:
        def bad(message: str) -> dict[str, Any]:
            return {"status": 400, "error": {"message": message, "status": 400}}

        if element.get("conversion") not in self.rules:
            return bad(f"conversion rule {element.get('conversion')!r} not found")
        happened = element.get("conversionHappenedAt")
        now_ms = self.now().timestamp() * 1000
        if not isinstance(happened, int):
            return bad("conversionHappenedAt must be epoch milliseconds")
        if happened > now_ms + 60_000 or now_ms - happened > timedelta(days=90).total_seconds() * 1000:
            return bad("conversionHappenedAt must be within the past 90 days")
        user_ids = (element.get("user") or {}).get("userIds") or []
        if not user_ids or any(u.get("idType") not in LINKEDIN_ID_TYPES for u in user_ids):
            return bad("user.userIds needs at least one id of a supported idType")
        if any(u["idType"] == "SHA256_EMAIL" and not HEX64.match(str(u.get("idValue"))) for u in user_ids):
            return bad("SHA256_EMAIL must be a SHA-256 hex digest")
        value = element.get("conversionValue")
        if value is not None and not (re.fullmatch(r"[A-Z]{3}", str(value.get("currencyCode")))
                                      and re.fullmatch(r"\d+(\.\d+)?", str(value.get("amount")))):
            return bad("conversionValue needs currencyCode and a decimal amount string")
        self.counted.setdefault((element["conversion"], str(element.get("eventId")), ""), element)
        return {"status": 201}
