"""Signed webhooks: HMAC-SHA256 over `timestamp.body`, five-minute window, no exception on odd input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.auth.webhooks import WebhookSignature
from agent.errors import WebhookSignatureError

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
HOOK = WebhookSignature(secret="s" * 10 + "3cr3t-of-the-outcomes-sender")
BODY = b'{"order": "A-1", "value": "12.50"}'


def test_a_signed_body_is_accepted_within_five_minutes() -> None:
    headers = HOOK.headers_for(BODY, NOW)
    HOOK.verify(headers, BODY, NOW + timedelta(seconds=299))
    HOOK.verify({k.upper(): v for k, v in headers.items()}, BODY, NOW)  # header names are case-insensitive


@pytest.mark.parametrize(("change", "reason"), [
    ({"body": BODY + b" "}, "does not match"),
    ({"now": NOW + timedelta(seconds=301)}, "from now"),
    ({"now": NOW - timedelta(seconds=301)}, "from now"),
    ({"timestamp": "1" + "0" * 400}, "not Unix seconds"),
    ({"timestamp": "12.5"}, "not Unix seconds"),
    ({"signature": "v1=" + "0" * 64}, "does not match"),
    ({"signature": "v1=é"}, "does not match"),
    ({"signature": ""}, "missing"),
])
def test_anything_else_is_refused_with_a_reason(change: dict[str, object], reason: str) -> None:
    headers = HOOK.headers_for(BODY, NOW)
    if "timestamp" in change:
        headers[HOOK.timestamp_header] = str(change["timestamp"])
    if "signature" in change:
        headers[HOOK.signature_header] = str(change["signature"])
    body = change.get("body", BODY)
    now = change.get("now", NOW)
    with pytest.raises(WebhookSignatureError, match=reason):
        HOOK.verify(headers, body, now)  # type: ignore[arg-type]
