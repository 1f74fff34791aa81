"""Fakes of Meta's Custom Audience users edge and LinkedIn's DMP segment users: local HTTP servers
speaking their wire formats, holding each audience's members as a set. Bind 127.0.0.1 only.

Meta (`POST` / `DELETE /v<N>/{custom_audience_id}/users`, following the Custom Audience Users
reference): the access token, a known audience, `payload` JSON `{"schema": "EMAIL_SHA256", "data":
[...]}` of SHA-256 hex, or a multi-key schema (`["EMAIL", "PHONE"]`, each record a list with one
hashed value per key, "" for a key it lacks; `keys` keeps which key each hash came under), at most
10,000 records, an optional `session` (`session_id`, `batch_seq`,
`last_batch_flag`). POST parameters come form-encoded, DELETE's in the query string, as the SDK
sends them. `GET /{custom_audience_id}/sessions[?session_id=]` lists the upload sessions received
(`session_id`, `num_received`, `stage`), as the Custom Audience Session reference describes.
`POST` / `GET /act_{id}/customaudiences` create and list lookalikes (see `_custom_audiences`).
Answers `{"audience_id", "session_id", "num_received", "num_invalid_entries", "invalid_entry_samples"}`. Sessions seen are kept in `sessions` (session id -> times received).

LinkedIn (`POST /rest/dmpSegments/{id}/users`, `X-RestLi-Method: BATCH_CREATE`, following the DMP
Segment Users page): bearer token, an active `LinkedIn-Version`, Rest.li 2.0.0; each element
`{"action": "ADD"|"REMOVE", "userIds": [{"idType": "SHA256_EMAIL", "idValue": hex}]}`, answered per
element (201). An app without the partner permission (`permitted=False`) is answered 403 with
LinkedIn's ACCESS_DENIED body.

Faults (`faults.inject(kind)` on `meta_add`, `meta_remove`, `meta_lookalike`, `meta_read`, `linkedin`): drop_answer (applied, then
the connection closes unanswered), server_error (500, not applied).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.json_http_fake import Answer, JsonHttpFake
from tests.fakes.linkedin_server import ACTIVE_VERSIONS

HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_META_RECORDS = 10_000
# keys of Meta's multi-key customer file schema (the facebook-business SDK's CustomAudience.Schema.MultiKeySchema)
MULTI_KEYS = frozenset({"EXTERN_ID", "EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST",
                        "ZIP", "MADID", "COUNTRY", "APPUID"})


class _AudienceHttpFake(JsonHttpFake):
    methods = ("POST", "DELETE", "GET")
    server_error = {"error": {"message": "An unknown error occurred", "code": 1, "is_transient": True}, "status": 500}

    def __init__(self) -> None:
        super().__init__()
        self.members: dict[str, set[str]] = {}

    def log(self, http: BaseHTTPRequestHandler, method: str, body: str) -> None:
        self.requests.append((method, http.path))


class FakeMetaAudiences(_AudienceHttpFake):
    """`audiences`: the custom audience ids the token may edit."""

    def __init__(self, audiences: Collection[str], *, access_token: str = "TOKEN") -> None:
        super().__init__()
        self.audiences, self.access_token = set(audiences), access_token
        self.sessions: dict[int, int] = {}
        self.received: dict[tuple[str, int], int] = {}
        self.lookalikes: dict[str, dict[str, Any]] = {}  # id -> name, origin, country, ratio
        self.keys: dict[str, dict[str, str]] = {}  # audience -> {hash: the schema key it was sent under}

    def _custom_audiences(self, method: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """`GET` lists the account's lookalikes; `POST` creates one (`subtype: LOOKALIKE`): a seed of at
        least 100 people, `lookalike_spec` ratio 0.01-0.20 and a country; the same seed, country and ratio
        twice is refused with error 2654, as Meta does."""
        if method == "GET":
            return 200, {"data": [{"id": key, "name": made["name"], "subtype": "LOOKALIKE"}
                                  for key, made in self.lookalikes.items()], "paging": {}}
        spec = json.loads(form.get("lookalike_spec") or "{}")
        origin = form.get("origin_audience_id") or ""
        if form.get("subtype") != "LOOKALIKE" or not form.get("name"):
            raise self._invalid("name and subtype LOOKALIKE are required")
        if origin not in self.audiences or len(self.members.get(origin, ())) < 100:
            raise self._invalid("origin_audience_id must be a custom audience of at least 100 people")
        if not (0.01 <= float(spec.get("ratio") or 0) <= 0.20) or not re.fullmatch(r"[A-Z]{2}",
                                                                                   str(spec.get("country"))):
            raise self._invalid("lookalike_spec needs a ratio of 0.01 to 0.20 and a country")
        wanted = (origin, spec["country"], float(spec["ratio"]))
        if any((m["origin"], m["country"], m["ratio"]) == wanted for m in self.lookalikes.values()):
            raise Answer(400, {"error": {"message": "Can't create a duplicate lookalike", "type": "OAuthException",
                                          "code": 2654, "fbtrace_id": "fake"}})
        key = str(238_000 + len(self.lookalikes))
        self.lookalikes[key] = {"name": form["name"], "origin": origin, "country": spec["country"],
                                "ratio": float(spec["ratio"])}
        return 200, {"id": key}

    def _sessions(self, http: BaseHTTPRequestHandler, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """`GET /{custom_audience_id}/sessions`: the upload sessions received, or the one asked for."""
        match = re.fullmatch(r"/v\d+\.\d+/(\d+)/sessions", urlsplit(http.path).path)
        if match is None or match.group(1) not in self.audiences:
            raise Answer(400, {"error": {"message": "Unsupported get request.", "type": "GraphMethodException",
                                          "code": 100, "error_subcode": 33, "fbtrace_id": "fake"}})
        wanted = form.get("session_id")
        data = [{"session_id": str(session_id), "num_received": str(count), "stage": "finished"}
                for (audience, session_id), count in sorted(self.received.items())
                if audience == match.group(1) and (wanted is None or str(session_id) == wanted)]
        return 200, {"data": data}

    def fault_kind(self, method: str, path: str) -> str:
        if path.endswith("/customaudiences"):
            return "meta_lookalike" if method == "POST" else "meta_read"
        return {"POST": "meta_add", "DELETE": "meta_remove"}.get(method, "meta_read")

    @staticmethod
    def _invalid(message: str) -> Answer:
        return Answer(400, {"error": {"message": f"Invalid parameter: {message}", "type": "OAuthException",
                                       "code": 100, "fbtrace_id": "fake"}})

    def handle(self, http: BaseHTTPRequestHandler, method: str, body: str) -> tuple[int, dict[str, Any]]:
        form = {k: v[-1] for k, v in parse_qs(urlsplit(http.path).query).items()}
        form.update({k: v[-1] for k, v in parse_qs(body).items()})
        if form.get("access_token") != self.access_token:
            raise Answer(400, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                                          "code": 190, "fbtrace_id": "fake"}})
        if re.fullmatch(r"/v\d+\.\d+/act_\d+/customaudiences", urlsplit(http.path).path):
            return self._custom_audiences(method, form)
        if method == "GET":
            return self._sessions(http, form)
        match = re.fullmatch(r"/v\d+\.\d+/(\d+)/users", urlsplit(http.path).path)
        if match is None or match.group(1) not in self.audiences:
            raise Answer(400, {"error": {"message": "Unsupported request.", "type": "GraphMethodException",
                                          "code": 100, "error_subcode": 33, "fbtrace_id": "fake"}})
        payload = json.loads(form.get("payload") or "{}")
        schema = payload.get("schema")
        rows = payload.get("data") or []
        if schema in ("EMAIL_SHA256", ["EMAIL_SHA256"]):
            keyed = [("EMAIL", d[0] if isinstance(d, list) else d) for d in rows]
        elif isinstance(schema, list) and schema and set(schema) <= MULTI_KEYS and len(set(schema)) == len(schema):
            # a multi-key record: one value per key, "" for a key it lacks, at least one value
            if any(not isinstance(d, list) or len(d) != len(schema) or not any(d) for d in rows):
                raise self._invalid("each record of a multi-key schema needs one value per key, not all empty")
            keyed = [(key, value) for d in rows for key, value in zip(schema, d, strict=True) if value]
        else:
            raise self._invalid("payload.schema must be EMAIL_SHA256 or a list of multi-key schema keys")
        data = [value for _key, value in keyed]
        if not rows or len(rows) > MAX_META_RECORDS:
            raise self._invalid(f"payload.data must hold 1 to {MAX_META_RECORDS} records")
        if any(not HEX64.match(str(value)) for value in data):
            raise self._invalid("payload.data must be SHA-256 hashed")
        self.keys.setdefault(match.group(1), {}).update({value: key for key, value in keyed})
        session = json.loads(form.get("session") or "{}")
        audience = match.group(1)
        held = self.members.setdefault(audience, set())
        if method == "POST":
            held.update(data)
        else:
            held.difference_update(data)
        session_id = int(session.get("session_id") or 0)
        self.sessions[session_id] = self.sessions.get(session_id, 0) + 1
        self.received[(audience, session_id)] = self.received.get((audience, session_id), 0) + len(rows)
        return 200, {"audience_id": audience, "session_id": str(session_id), "num_received": len(rows),
                     "num_invalid_entries": 0, "invalid_entry_samples": {}}


class FakeLinkedInDmpSegments(_AudienceHttpFake):
    """`segments`: the DMP segment ids of the token's ad accounts; `permitted`: whether the app holds
    LinkedIn's partner permission rw_dmp_segments; `ad_segments`: DMP segment id -> the id N of the
    ad segment (urn:li:adSegment:N) LinkedIn made of it (a segment not listed has none yet).

    `GET /rest/dmpSegments/{id}` answers the segment with its `destinations`, as the DMP Segments and
    DMP Segment Destinations pages describe them: `destination` LINKEDIN, `status`, and once built
    `destinationSegmentId` (the ad segment URN campaigns target or exclude) and `audienceSize`."""

    def __init__(self, segments: Collection[str], *, permitted: bool = True, access_token: str = "TOKEN",
                 ad_segments: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.segments, self.permitted, self.access_token = set(segments), permitted, access_token
        self.ad_segments = dict(ad_segments or {})

    def fault_kind(self, method: str, path: str) -> str:
        return "linkedin_read" if method == "GET" else "linkedin"

    def _segment(self, segment: str) -> dict[str, Any]:
        destination: dict[str, Any] = {"destination": "LINKEDIN", "status": "PROCESSING"}
        if segment in self.ad_segments:
            destination.update({"status": "READY", "destinationSegmentId": f"urn:li:adSegment:{self.ad_segments[segment]}",
                                "audienceSize": len(self.members.get(segment, ()))})
        return {"id": int(segment), "name": f"DMP segment {segment}", "type": "USER", "sourcePlatform": "LIST_UPLOAD",
                "destinations": [destination]}

    def handle(self, http: BaseHTTPRequestHandler, method: str, body: str) -> tuple[int, dict[str, Any]]:
        def refuse(status: int, message: str, code: str | None = None) -> Answer:
            return Answer(status, {"status": status, "message": message, **({"code": code} if code else {})})

        read = re.fullmatch(r"/rest/dmpSegments/(\d+)", urlsplit(http.path).path)
        match = re.fullmatch(r"/rest/dmpSegments/(\d+)/users", urlsplit(http.path).path)
        if method == "GET" and read is not None:
            match = read
        elif method != "POST" or match is None:
            raise refuse(404, "no such resource")
        if (http.headers.get("Authorization") or "") != f"Bearer {self.access_token}":
            raise refuse(401, "Invalid access token")
        if (http.headers.get("LinkedIn-Version") or "") not in ACTIVE_VERSIONS:
            raise refuse(426, "Requested version is not active")
        if http.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            raise refuse(400, "Rest.li protocol 2.0.0 required")
        if not self.permitted:
            raise refuse(403, "Not enough permissions to access: dmpSegmentsUsers.BATCH_CREATE.20260801",
                         "ACCESS_DENIED")
        if method == "GET":
            if match.group(1) not in self.segments:
                raise refuse(404, f"DMP segment {match.group(1)} not found")
            return 200, self._segment(match.group(1))
        if http.headers.get("X-RestLi-Method") != "BATCH_CREATE":
            raise refuse(400, "a list of elements needs X-RestLi-Method: BATCH_CREATE")
        if match.group(1) not in self.segments:
            raise refuse(404, f"DMP segment {match.group(1)} not found")
        held = self.members.setdefault(match.group(1), set())
        statuses = []
        for element in json.loads(body).get("elements") or []:
            ids = [u for u in element.get("userIds") or [] if u.get("idType") == "SHA256_EMAIL"]
            if element.get("action") not in ("ADD", "REMOVE") or not ids or any(
                    not HEX64.match(str(u.get("idValue"))) for u in ids):
                statuses.append({"status": 400, "message": "action ADD or REMOVE and SHA256_EMAIL userIds needed"})
                continue
            for user in ids:
                (held.add if element["action"] == "ADD" else held.discard)(str(user["idValue"]))
            statuses.append({"status": 201})
        return 200, {"elements": statuses}
