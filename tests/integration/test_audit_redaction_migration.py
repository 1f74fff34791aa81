"""The revision that adds `simulated_day` also redacts reply tokens already in the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from agent.storage import db

TOKEN = "k3j_x-9qzt0m4lp2wr8vyn5bcd7hgf6a"


def test_upgrade_redacts_tokens_kept_by_earlier_versions_and_fills_the_day(bare_engine: Engine) -> None:
    db.upgrade(bare_engine, "0005")
    events = sa.table("audit_events", sa.column("at", sa.DateTime(timezone=True)), sa.column("event", sa.String),
                      sa.column("actor", sa.String), sa.column("message", sa.Text), sa.column("data", sa.JSON))
    reference = {"subject": f"Re: [pma:{TOKEN}] Approve? pause Shoes", "to": f"approvals+{TOKEN}@agency.example"}
    with bare_engine.begin() as connection:
        connection.execute(sa.insert(events).values(
            at=datetime(2026, 11, 23, 23, 30, tzinfo=UTC), event="state:approved", actor="email:alice@client.example",
            message="approved", data={"channel": "email", "reference": reference}))
    db.upgrade(bare_engine)
    with bare_engine.connect() as connection:
        [row] = connection.execute(sa.text("SELECT data, simulated_day FROM audit_events")).all()
    text = row.data if isinstance(row.data, str) else str(row.data)
    assert TOKEN not in text and "[pma:redacted] Approve? pause Shoes" in text and "approvals+[redacted]@" in text
    assert str(row.simulated_day) == str(date(2026, 11, 23))
