"""audit events: real wall-clock `at` plus the simulated day; reply tokens redacted from the trail

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 19:00:00

Earlier versions kept an email reply's subject, which carries the request's `[pma:TOKEN]` tag, in
the decision's audit event, so `audit export` showed tokens the database otherwise keeps only
hashed. This revision rewrites those subjects with the token redacted. Existing events keep their
`at` (whatever clock wrote it); `simulated_day` is filled with its day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN = r"([a-z0-9_-]{20,64})"
SUBJECT_TAG = re.compile(r"\[pma:" + TOKEN + r"\]", re.IGNORECASE)
PLUS_TOKEN = re.compile(r"\+" + TOKEN + r"@", re.IGNORECASE)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return PLUS_TOKEN.sub("+[redacted]@", SUBJECT_TAG.sub("[pma:redacted]", value))
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("simulated_day", sa.Date(), nullable=True))
    events = sa.table("audit_events", sa.column("id", sa.Integer), sa.column("at", sa.DateTime(timezone=True)),
                      sa.column("simulated_day", sa.Date), sa.column("data", sa.JSON))
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":  # SQLite's CAST(... AS DATE) would keep only the year
        day = sa.func.date(events.c.at)
    else:
        day = sa.cast(sa.func.timezone("UTC", events.c.at), sa.Date)
    connection.execute(sa.update(events).values(simulated_day=day))
    tagged = sa.select(events.c.id, events.c.data).where(sa.cast(events.c.data, sa.Text).like("%pma:%"))
    for row in connection.execute(tagged).all():
        data = row.data if not isinstance(row.data, str) else json.loads(row.data)
        redacted = _redact(data)
        if redacted != data:
            connection.execute(sa.update(events).where(events.c.id == row.id).values(data=redacted))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("simulated_day")
