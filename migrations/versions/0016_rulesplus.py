"""Intraday metrics: today's partial rows, pulled during the day for rules that read `today`

Revision ID: 0016_rulesplus
Revises: 0015_audsync
Create Date: 2026-12-05 01:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_rulesplus"
down_revision: str | None = "0015_audsync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intraday_metrics",
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("spend", sa.BigInteger(), nullable=False),  # money as integer micros
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.Float(), nullable=False),
        sa.Column("conversion_value", sa.BigInteger(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=True),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "account_id", "entity_id", "day", name=op.f("pk_intraday_metrics")),
    )


def downgrade() -> None:
    op.drop_table("intraday_metrics")
