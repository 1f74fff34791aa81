"""Randomized holdouts: the experiments table (one row per entity, action kind and horizon)

Revision ID: 0011_experiments
Revises: 0010_queue
Create Date: 2026-12-04 22:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_experiments"
down_revision: str | None = "0010_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("entity_level", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("draw_seed", sa.String(length=32), nullable=False),
        sa.Column("draw_uniform", sa.Float(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("horizon_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("measure_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("estimate", sa.JSON(), nullable=True),
        sa.Column("estimated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
    )
    op.create_index("ix_experiments_pair", "experiments", ["account_id", "entity_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_experiments_pair", table_name="experiments")
    op.drop_table("experiments")
