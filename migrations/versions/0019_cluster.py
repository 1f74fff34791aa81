"""Cluster randomization of holdouts: each experiment row records its unit (entity or campaign) and,
for a campaign's draw, the campaign it belongs to

Revision ID: 0019_cluster
Revises: 0018_prospect
Create Date: 2026-12-05 21:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_cluster"
down_revision: str | None = "0018_prospect"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("experiments", sa.Column("unit", sa.String(length=16), server_default="entity", nullable=False))
    op.add_column("experiments", sa.Column("cluster_id", sa.String(length=255), nullable=True))
    op.create_index("ix_experiments_cluster", "experiments", ["account_id", "cluster_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_experiments_cluster", table_name="experiments")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("cluster_id")
        batch.drop_column("unit")
