"""Signed webhooks: HMAC-SHA256 over `timestamp.body`, sent in named headers, with a five-minute window.

The same scheme as Slack's (which signs `v0:timestamp:body`), for our own signed endpoints (a
sender of conversion outcomes, say): the sender computes
`hex(HMAC_SHA256(secret, f"{timestamp}." + body))` and sends it as `<signature header>: v1=<hex>`
beside `<timestamp header>: <Unix seconds>`. The body is checked as raw bytes, before any parsing;
the window bounds replays of a captured request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from agent.errors import WebhookSignatureError

MAX_AGE_SECONDS = 5 * 60
UNIX_SECONDS = re.compile(r"^[0-9]{1,12}$")  # a bound on digits: no huge integers, no float overflow
SIGNATURE = re.compile(r"^v1=[0-9a-f]{64}$")


@dataclass(frozen=True)
class WebhookSignature:
    """One signed endpoint's scheme: its secret and header names."""

    secret: str
    timestamp_header: str = "x-pma-timestamp"
    signature_header: str = "x-pma-signature"
    max_age_seconds: int = MAX_AGE_SECONDS

    def sign(self, timestamp: str, body: bytes) -> str:
        digest = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return f"v1={digest}"

    def headers_for(self, body: bytes, now: datetime) -> dict[str, str]:
        """The headers a sender adds (tests, and a client of ours)."""
        timestamp = str(int(now.timestamp()))
        return {self.timestamp_header: timestamp, self.signature_header: self.sign(timestamp, body)}

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        """Raise WebhookSignatureError unless `body` is signed with our secret at a time near `now`."""
        lowered = {key.lower(): value for key, value in headers.items()}
        timestamp = lowered.get(self.timestamp_header.lower())
        signature = lowered.get(self.signature_header.lower())
        if not timestamp or not signature:
            raise WebhookSignatureError(f"missing {self.timestamp_header} or {self.signature_header} header")
        if not UNIX_SECONDS.match(timestamp):
            raise WebhookSignatureError(f"{self.timestamp_header} is not Unix seconds")
        age = now.timestamp() - int(timestamp)
        if abs(age) > self.max_age_seconds:  # the future too: a forged clock is no better than an old one
            raise WebhookSignatureError(f"timestamp is {int(age)} s from now (more than {self.max_age_seconds} s)")
        if not SIGNATURE.match(signature) or not hmac.compare_digest(
                signature.encode(), self.sign(timestamp, body).encode()):
            raise WebhookSignatureError("signature does not match the body")
