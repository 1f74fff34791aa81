"""Session cookies and CSRF tokens: unforgeable, expiring, bound to one session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.auth.sessions import SessionSigner
from agent.auth.tokens import new_secret

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SIGNER = SessionSigner(new_secret(), timedelta(hours=12))


def test_a_session_reads_back_until_it_expires() -> None:
    cookie, session = SIGNER.issue("alice@example.com", "nonce-1", NOW)
    assert SIGNER.read(cookie, NOW + timedelta(hours=11)) == session
    assert SIGNER.read(cookie, NOW + timedelta(hours=12, seconds=1)) is None


def test_tampered_foreign_and_garbage_cookies_are_refused() -> None:
    cookie, _ = SIGNER.issue("alice@example.com", "nonce-1", NOW)
    body, mac = cookie.split(".")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    assert SIGNER.read(f"{forged_body}.{mac}", NOW) is None
    other, _ = SessionSigner(new_secret(), timedelta(hours=12)).issue("alice@example.com", "nonce-1", NOW)
    assert SIGNER.read(other, NOW) is None
    for garbage in ("", ".", "a.b.c", "x" * 10_000, "é.é", None):
        assert SIGNER.read(garbage, NOW) is None


def test_csrf_tokens_are_bound_to_their_session() -> None:
    _, first = SIGNER.issue("alice@example.com", "n", NOW)
    _, second = SIGNER.issue("alice@example.com", "n", NOW)
    token = SIGNER.csrf_token(first)
    assert SIGNER.csrf_ok(first, token)
    assert not SIGNER.csrf_ok(second, token)
    assert not SIGNER.csrf_ok(first, "") and not SIGNER.csrf_ok(first, None) and not SIGNER.csrf_ok(first, "é")


def test_login_tokens_are_double_submitted_and_signed() -> None:
    token = SIGNER.login_token()
    assert SIGNER.login_token_ok(token, token)
    assert not SIGNER.login_token_ok(token, SIGNER.login_token())
    nonce = token.split(".")[0]
    assert not SIGNER.login_token_ok(f"{nonce}.forged", f"{nonce}.forged")
    assert not SIGNER.login_token_ok(None, token)
