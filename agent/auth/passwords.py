"""Password hashing: argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # hashing cost grows with length: a megabyte "password" is a denial of service

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so an attacker cannot tell "no such user" from "wrong
    password" by the answer's timing. Made on first use: hashing takes a good fraction of a second."""
    return _HASHER.hash("not a password of anyone: timing equaliser")


def password_problem(password: str) -> str | None:
    """Why `password` may not be set, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; with no hash (unknown user) the same work is done and False returned."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        matches = _HASHER.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None
