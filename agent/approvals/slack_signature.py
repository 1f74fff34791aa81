"""Slack request signing (v0): proves a request came from Slack, recently.

Slack signs `v0:{timestamp}:{raw body}` with the app's signing secret (HMAC-SHA256) and sends the
hex digest as `X-Slack-Signature: v0=...` beside `X-Slack-Request-Timestamp`. The signature is
computed over the raw bytes, so it must be checked before the body is parsed. The timestamp check
bounds how long a captured request can be replayed; the decision path itself refuses to decide an
action twice, which covers replays inside the window.

The check itself is slack_sdk's `SignatureVerifier`. It trusts its inputs, though: `int()` of a
timestamp of 400 digits and its subtraction from a float raise OverflowError, a non-UTF-8 body
raises UnicodeDecodeError and a non-ASCII signature TypeError. So the headers' shapes are checked
here first, and anything unusual is a refusal (401), never an exception (500).
"""

from __future__ import annotations

import re
from datetime import datetime

from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier

from agent.errors import SlackSignatureError

MAX_AGE_SECONDS = 5 * 60  # SignatureVerifier's window too
VERSION = "v0"
UNIX_SECONDS = re.compile(r"^[0-9]{1,12}$")
SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")


class _At(SlackClock):
    """SignatureVerifier's clock, at our (injected) now."""

    def __init__(self, now: datetime) -> None:
        self.at = now.timestamp()

    def now(self) -> float:
        return self.at


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value Slack would send for this body and timestamp."""
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return signature


def verify(signing_secret: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime,
           max_age_seconds: int = MAX_AGE_SECONDS) -> None:
    """Raise SlackSignatureError unless `signature` is Slack's for `body` at a timestamp near `now`."""
    if not timestamp or not signature:
        raise SlackSignatureError("missing X-Slack-Request-Timestamp or X-Slack-Signature header")
    if not UNIX_SECONDS.match(timestamp):
        raise SlackSignatureError(f"timestamp {timestamp[:20]!r} is not Unix seconds")
    age = now.timestamp() - int(timestamp)
    if abs(age) > max_age_seconds:  # the future too: a skewed or forged clock is no better than an old one
        raise SlackSignatureError(f"timestamp is {int(age)} s from now (more than {max_age_seconds} s)")
    try:
        body.decode("utf-8")  # Slack sends URL-encoded ASCII; the verifier decodes the body as UTF-8
    except UnicodeDecodeError:
        raise SlackSignatureError("signature does not match the body (the body is not UTF-8)") from None
    verifier = SignatureVerifier(signing_secret, clock=_At(now))
    if not SIGNATURE.match(signature) or not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        raise SlackSignatureError("signature does not match the body")
