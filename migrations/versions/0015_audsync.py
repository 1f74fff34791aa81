"""The audience ledger: members each platform audience holds, the batches sent to it, lookalikes seeded

Revision ID: 0015_audsync
Revises: 0014_crmseg
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_audsync"
down_revision: str | None = "0014_crmseg"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audience_members",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("audience_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_members")),
        sa.UniqueConstraint("account_id", "audience_id", "kind", "sha256",
                            name=op.f("uq_audience_members_account_id")),
    )
    op.create_index("ix_audience_members_batch_id", "audience_members", ["batch_id"], unique=False)
    op.create_table(
        "audience_batches",
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("audience_id", sa.String(length=64), nullable=False),
        sa.Column("segment", sa.String(length=128), nullable=False),
        sa.Column("operation", sa.String(length=8), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_audience_batches")),
    )
    op.create_index("ix_audience_batches_account_state", "audience_batches", ["account_id", "audience_id", "state"],
                    unique=False)
    op.create_table(
        "audience_lookalikes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("seed_audience_id", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("ratio", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lookalike_id", sa.String(length=64), nullable=True),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_lookalikes")),
        sa.UniqueConstraint("account_id", "seed_audience_id", "country", "ratio",
                            name=op.f("uq_audience_lookalikes_account_id")),
    )


def downgrade() -> None:
    op.drop_table("audience_lookalikes")
    op.drop_index("ix_audience_batches_account_state", table_name="audience_batches")
    op.drop_table("audience_batches")
    op.drop_index("ix_audience_members_batch_id", table_name="audience_members")
    op.drop_table("audience_members")
