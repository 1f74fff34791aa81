"""The offline-conversion uploads ledger, and EEA consent on outcomes

Revision ID: 0012_uploads
Revises: 0011_experiments
Create Date: 2026-12-04 23:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_uploads"
down_revision: str | None = "0011_experiments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outcomes", sa.Column("ad_user_data", sa.String(length=16), nullable=True))
    op.add_column("outcomes", sa.Column("ad_personalization", sa.String(length=16), nullable=True))
    op.create_table(
        "conversion_uploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crm_id", sa.String(length=255), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("destination", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversion_uploads")),
        sa.UniqueConstraint("crm_id", "stage", "platform", name=op.f("uq_conversion_uploads_crm_id")),
    )
    op.create_index("ix_conversion_uploads_account_state", "conversion_uploads", ["account_id", "state"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_conversion_uploads_account_state", table_name="conversion_uploads")
    op.drop_table("conversion_uploads")
    op.drop_column("outcomes", "ad_personalization")
    op.drop_column("outcomes", "ad_user_data")
