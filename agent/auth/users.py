"""The `users` table: adding, listing, removing people, and checking a password at sign-in."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from agent.approvals.settings import EMAIL_ADDRESS
from agent.auth.passwords import hash_password, verify_password
from agent.auth.roles import ROLES, Principal, Role
from agent.errors import UserError
from agent.storage.action_states import as_utc
from agent.storage.models import User


@dataclass(frozen=True)
class UserRecord:
    email: str
    role: Role
    accounts: tuple[str, ...]
    session_nonce: str
    created_at: datetime

    def principal(self) -> Principal:
        return Principal(name=self.email, kind="user", role=self.role, accounts=self.accounts)


def normalise_email(email: str) -> str:
    address = email.strip().lower()
    if not re.match(EMAIL_ADDRESS, address) or len(address) > 320:
        raise UserError(f"{email!r} is not an email address")
    return address


def _record(row: User) -> UserRecord:
    return UserRecord(email=row.email, role=cast(Role, row.role), accounts=tuple(row.accounts or ()),
                      session_nonce=row.session_nonce, created_at=as_utc(row.created_at))


def add_user(engine: Engine, email: str, password: str, role: str, accounts: Sequence[str],
             now: datetime) -> UserRecord:
    """Store a new user with an argon2 hash of `password` (checked by the caller)."""
    address = normalise_email(email)
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    row = User(email=address, password_hash=hash_password(password), role=role, accounts=list(accounts),
               session_nonce=secrets.token_hex(16), created_at=now)
    try:
        with engine.begin() as connection:
            connection.execute(insert(User).values(
                email=row.email, password_hash=row.password_hash, role=row.role, accounts=row.accounts,
                session_nonce=row.session_nonce, created_at=row.created_at))
    except IntegrityError:
        raise UserError(f"user {address} already exists (remove it first to change it)") from None
    return _record(row)


def remove_user(engine: Engine, email: str) -> None:
    address = normalise_email(email)
    with engine.begin() as connection:
        removed = connection.execute(delete(User).where(User.email == address)).rowcount
    if not removed:
        raise UserError(f"there is no user {address}")


def list_users(engine: Engine) -> list[UserRecord]:
    with engine.connect() as connection:
        rows = connection.execute(select(User.__table__).order_by(User.email)).all()
    return [_record(cast(User, row)) for row in rows]


def count_users(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(User)).scalar() or 0)


def get_user(engine: Engine, email: str) -> UserRecord | None:
    with engine.connect() as connection:
        row = connection.execute(select(User.__table__).where(User.email == email.strip().lower())).first()
    return _record(cast(User, row)) if row is not None else None


def authenticate(engine: Engine, email: str, password: str) -> UserRecord | None:
    """The user if `password` is theirs; None otherwise (taking as long for an unknown email)."""
    address = email.strip().lower()[:320]
    with engine.connect() as connection:
        row = connection.execute(select(User.__table__).where(User.email == address)).first()
    if not verify_password(row.password_hash if row is not None else None, password) or row is None:
        return None
    return _record(cast(User, row))
