"""Process-wide switches stored in the database (the kill switch), so every process sees a flip at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from agent.storage.models import AgentFlag
from agent.storage.store import upsert_rows

KILL_SWITCH = "kill_switch"


def set_flag(connection: Connection, name: str, enabled: bool, by: str, now: datetime) -> None:
    row = {"name": name, "enabled": enabled, "updated_by": by, "updated_at": now}
    upsert_rows(connection, AgentFlag.__table__, [row], ["name"])  # type: ignore[arg-type]


def flag_enabled(connection: Connection, name: str) -> bool:
    value = connection.execute(select(AgentFlag.enabled).where(AgentFlag.name == name)).scalar_one_or_none()
    return bool(value)
