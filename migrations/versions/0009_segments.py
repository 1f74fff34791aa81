"""Segment metrics: ad-set delivery by breakdown segment (device, age, placement, company size, ...)

Revision ID: 0009_segments
Revises: 0008_outcomes
Create Date: 2026-12-04 22:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_segments"
down_revision: str | None = "0008_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segment_metrics",
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("spend", sa.BigInteger(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.Float(), nullable=False),
        sa.Column("conversion_value", sa.BigInteger(), nullable=False),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "account_id", "entity_id", "day", "dimension", "segment",
                                name=op.f("pk_segment_metrics")),
    )
    op.create_index("ix_segment_metrics_account_dimension_day", "segment_metrics",
                    ["account_id", "dimension", "day"])


def downgrade() -> None:
    op.drop_index("ix_segment_metrics_account_dimension_day", table_name="segment_metrics")
    op.drop_table("segment_metrics")
