"""The Alembic migrations and the SQLAlchemy models describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from agent.storage import db
from migrations.env_metadata import TARGET_METADATA


def test_autogenerate_finds_no_difference_after_upgrade(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"target_metadata": TARGET_METADATA, "compare_type": True}
        )
        differences = compare_metadata(context, TARGET_METADATA)
    assert differences == []


def test_upgrade_is_at_head_and_downgrade_removes_everything(engine: Engine) -> None:
    assert db.current_revision(engine) == db.head_revision()
    db.upgrade(engine)  # a second upgrade is a no-op
    db.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    db.upgrade(engine)
    assert {"daily_metrics", "actions", "audit_events", "sim_mutations"} <= set(inspect(engine).get_table_names())
