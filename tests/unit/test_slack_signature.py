"""Slack v0 request signing: Slack's documented example, tampering, and the five-minute window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.approvals.slack_signature import sign, verify
from agent.errors import SlackSignatureError

# The worked example from Slack's "Verifying requests from Slack" guide.
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TIMESTAMP = "1531420618"
BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
EXPECTED = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SENT_AT = datetime.fromtimestamp(int(TIMESTAMP), UTC)


def test_matches_slacks_documented_example() -> None:
    assert sign(SECRET, TIMESTAMP, BODY) == EXPECTED
    verify(SECRET, TIMESTAMP, EXPECTED, BODY, SENT_AT)


@pytest.mark.parametrize(("secret", "body", "signature"), [
    ("another-secret", BODY, EXPECTED),
    (SECRET, BODY + b"&text=approve", EXPECTED),
    (SECRET, BODY, EXPECTED[:-1] + "0"),
    (SECRET, BODY, EXPECTED.replace("v0=", "v1=")),
])
def test_any_change_breaks_the_signature(secret: str, body: bytes, signature: str) -> None:
    with pytest.raises(SlackSignatureError, match="does not match"):
        verify(secret, TIMESTAMP, signature, body, SENT_AT)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_timestamps_more_than_five_minutes_away_are_refused(offset: int) -> None:
    now = datetime.fromtimestamp(int(TIMESTAMP) + offset, UTC)
    with pytest.raises(SlackSignatureError, match="from now"):
        verify(SECRET, TIMESTAMP, EXPECTED, BODY, now)


def test_timestamps_inside_the_window_are_accepted() -> None:
    verify(SECRET, TIMESTAMP, EXPECTED, BODY, datetime.fromtimestamp(int(TIMESTAMP) + 300, UTC))


@pytest.mark.parametrize(("timestamp", "signature"), [(None, EXPECTED), (TIMESTAMP, None), ("", ""),
                                                      ("soon", EXPECTED)])
def test_missing_or_malformed_headers_are_refused(timestamp: str | None, signature: str | None) -> None:
    with pytest.raises(SlackSignatureError):
        verify(SECRET, timestamp, signature, BODY, SENT_AT)


@pytest.mark.parametrize("timestamp", ["1" + "0" * 400, "1" + "0" * 5000, "-1531420618", "1531420618.5", "١٢٣"])
def test_absurd_timestamps_are_refused_not_crashed(timestamp: str) -> None:
    with pytest.raises(SlackSignatureError, match="not Unix seconds"):
        verify(SECRET, timestamp, EXPECTED, BODY, SENT_AT)


@pytest.mark.parametrize(("signature", "body"), [("v0=é" + "0" * 63, BODY), (EXPECTED, b"\xff\xfe" + BODY)])
def test_non_ascii_signatures_and_non_utf8_bodies_are_refused_not_crashed(signature: str, body: bytes) -> None:
    with pytest.raises(SlackSignatureError, match="does not match"):
        verify(SECRET, TIMESTAMP, signature, body, SENT_AT)
