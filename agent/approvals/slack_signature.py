"""Slack request signing (v0): proves a request came from Slack, recently.

Slack signs `v0:{timestamp}:{raw body}` with the app's signing secret (HMAC-SHA256) and sends the
hex digest as `X-Slack-Signature: v0=...` beside `X-Slack-Request-Timestamp`. The signature is
computed over the raw bytes, so it must be checked before the body is parsed. The timestamp check
bounds how long a captured request can be replayed; the decision path itself refuses to decide an
action twice, which covers replays inside the window.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

MAX_AGE_SECONDS = 5 * 60
VERSION = "v0"


class SlackSignatureError(Exception):
    """The request is not (recently) signed by Slack; `reason` says which check failed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value Slack would send for this body and timestamp."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def verify(signing_secret: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime,
           max_age_seconds: int = MAX_AGE_SECONDS) -> None:
    """Raise SlackSignatureError unless `signature` is Slack's for `body` at a timestamp near `now`."""
    if not timestamp or not signature:
        raise SlackSignatureError("missing X-Slack-Request-Timestamp or X-Slack-Signature header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SlackSignatureError(f"timestamp {timestamp[:20]!r} is not a number") from None
    age = now.timestamp() - sent_at
    if abs(age) > max_age_seconds:  # the future too: a skewed or forged clock is no better than an old one
        raise SlackSignatureError(f"timestamp is {int(age)} s from now (more than {max_age_seconds} s)")
    expected = sign(signing_secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SlackSignatureError("signature does not match the body")
