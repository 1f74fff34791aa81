"""Copy tests: approved copy drafts launched against the ad they challenge, with the verdict and
the predicted and observed CTR

Revision ID: 0017_copytest
Revises: 0016_rulesplus
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_copytest"
down_revision: str | None = "0016_rulesplus"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "copy_tests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("ad_set_id", sa.String(length=255), nullable=False),
        sa.Column("draft_action_id", sa.Integer(), nullable=False),
        sa.Column("challenger_ad_id", sa.String(length=255), nullable=False),
        sa.Column("incumbent_ad_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("predicted_ctr", sa.Float(), nullable=True),
        sa.Column("predicted_low", sa.Float(), nullable=True),
        sa.Column("predicted_high", sa.Float(), nullable=True),
        sa.Column("interval_level", sa.Float(), nullable=True),
        sa.Column("observed_ctr", sa.Float(), nullable=True),
        sa.Column("incumbent_ctr", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("winner_ad_id", sa.String(length=255), nullable=True),
        sa.Column("loser_ad_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copy_tests")),
        sa.UniqueConstraint("draft_action_id", name="uq_copy_tests_draft_action_id"),
    )
    op.create_index("ix_copy_tests_account_status", "copy_tests", ["account_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_copy_tests_account_status", table_name="copy_tests")
    op.drop_table("copy_tests")
