"""The session cookie and CSRF tokens, signed with `service.session_secret` (HMAC-SHA256).

A session is `base64url(json).base64url(mac)`: the user's email, their `session_nonce` (a user removed
and added again gets a new one, so old cookies die with the removal), a random session id and the
issue time. Nothing secret is inside; the MAC makes it unforgeable. The CSRF token of a session is a
MAC of its id, so it needs no storage and is worthless for any other session ("session-bound").
Before sign-in, the login form uses a signed double-submit token (cookie and form field must agree).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_COOKIE = "pma_session"
LOGIN_COOKIE = "pma_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_COOKIE_CHARS = 4096


@dataclass(frozen=True)
class Session:
    email: str
    nonce: str
    session_id: str
    issued_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and checks sessions and CSRF tokens; each use has its own key derived from the secret."""

    def __init__(self, secret: str, max_age: timedelta) -> None:
        root = secret.encode()
        self._session_key = hmac.new(root, b"pma session v1", hashlib.sha256).digest()
        self._csrf_key = hmac.new(root, b"pma csrf v1", hashlib.sha256).digest()
        self.max_age = max_age

    def _mac(self, key: bytes, message: str) -> str:
        return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest())

    # -- sessions -------------------------------------------------------------------------------

    def issue(self, email: str, nonce: str, now: datetime) -> tuple[str, Session]:
        session = Session(email=email, nonce=nonce, session_id=secrets.token_urlsafe(18), issued_at=now)
        body = _b64(json.dumps({"e": email, "n": nonce, "s": session.session_id, "t": int(now.timestamp())},
                               separators=(",", ":")).encode())
        return f"{body}.{self._mac(self._session_key, body)}", session

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        """The session in `cookie` if it is ours, well formed and not expired; None otherwise."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(self._session_key, body).encode()):
            return None
        try:
            data = json.loads(_unb64(body))
            issued = datetime.fromtimestamp(int(data["t"]), now.tzinfo)
            session = Session(email=str(data["e"]), nonce=str(data["n"]), session_id=str(data["s"]),
                              issued_at=issued)
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            return None
        if not (now - self.max_age <= issued <= now + timedelta(minutes=5)):
            return None
        return session

    # -- CSRF -----------------------------------------------------------------------------------

    def csrf_token(self, session: Session) -> str:
        return self._mac(self._csrf_key, f"session:{session.session_id}")

    def csrf_ok(self, session: Session, offered: str | None) -> bool:
        return bool(offered) and hmac.compare_digest(str(offered).encode("utf-8", "surrogateescape"),
                                                     self.csrf_token(session).encode())

    def login_token(self) -> str:
        """A fresh pre-session token: goes into the login cookie and the login form alike."""
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._mac(self._csrf_key, f'login:{nonce}')}"

    def login_token_ok(self, cookie: str | None, offered: str | None) -> bool:
        if not cookie or not offered or len(cookie) > 200 or cookie.count(".") != 1:
            return False
        nonce, mac = cookie.split(".")
        signed = hmac.compare_digest(mac.encode("utf-8", "surrogateescape"),
                                     self._mac(self._csrf_key, f"login:{nonce}").encode())
        return signed and hmac.compare_digest(cookie.encode("utf-8", "surrogateescape"),
                                              offered.encode("utf-8", "surrogateescape"))
