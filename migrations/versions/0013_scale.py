"""Reach estimates keyed by the audiences' definitions; when copy was last drafted per ad set

Revision ID: 0013_scale
Revises: 0012_uploads
Create Date: 2026-12-04 22:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_scale"
down_revision: str | None = "0012_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reach_estimates") as batch:
        batch.add_column(sa.Column("definition", sa.String(length=64), nullable=True))
    op.create_table(
        "copy_drafts",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("ad_set_id", sa.String(length=128), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "ad_set_id", name=op.f("pk_copy_drafts")),
    )


def downgrade() -> None:
    op.drop_table("copy_drafts")
    with op.batch_alter_table("reach_estimates") as batch:
        batch.drop_column("definition")
