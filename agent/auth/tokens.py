"""Bearer tokens for machine clients (Prometheus, scripts) and the other long secrets of the service.

A token is only as good as its randomness, which cannot be measured; its length and variety can.
`secret_problem` refuses empty, short and obviously repetitive values, so `${PROM_TOKEN}` set to ""
or to "changeme" is a configuration error instead of an open door.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

MIN_SECRET_BYTES = 32
MIN_SECRET_CHARS = 43  # 32 random bytes as URL-safe base64 (`secrets.token_urlsafe(32)`); hex is 64
MIN_DISTINCT_CHARS = 8
HOW_TO_MAKE_ONE = "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def new_secret() -> str:
    """A fresh secret of 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(MIN_SECRET_BYTES)


def secret_problem(value: str) -> str | None:
    """Why `value` is not acceptable as a token or signing secret, or None. Never echoes the value."""
    if not value.strip():
        return f"is empty (is its environment variable set to an empty value?); {HOW_TO_MAKE_ONE}"
    if len(value) < MIN_SECRET_CHARS:
        return (f"is too short ({len(value)} characters): use at least {MIN_SECRET_BYTES} random bytes "
                f"({MIN_SECRET_CHARS} characters); {HOW_TO_MAKE_ONE}")
    if len(set(value)) < MIN_DISTINCT_CHARS:
        return f"is not random (only {len(set(value))} different characters); {HOW_TO_MAKE_ONE}"
    return None


def bearer_of(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def matching_token(offered: str, tokens: Mapping[str, str]) -> str | None:
    """The name of the configured token equal to `offered`, or None.

    Every configured token is compared, each in constant time, so the answer's timing tells nothing
    about which token (or how much of one) matched.
    """
    offered_bytes = offered.encode("utf-8", "surrogateescape")
    found: str | None = None
    for name, token in tokens.items():
        if hmac.compare_digest(offered_bytes, token.encode("utf-8", "surrogateescape")) and found is None:
            found = name
    return found
