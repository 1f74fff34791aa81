"""CRM outcomes, their attributions, and the webhook deliveries seen

Revision ID: 0008_outcomes
Revises: 0007
Create Date: 2026-12-04 21:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_outcomes"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crm_id", sa.String(length=255), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("stage_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        *(sa.Column(name, sa.String(length=255), nullable=True)
          for name in ("gclid", "gbraid", "wbraid", "fbclid", "fbc", "li_fat_id",
                       "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")),
        sa.Column("email_sha256", sa.String(length=64), nullable=True),
        sa.Column("phone_sha256", sa.String(length=64), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcomes")),
        sa.UniqueConstraint("crm_id", "stage", name=op.f("uq_outcomes_crm_id")),
    )
    op.create_table(
        "attributions",
        sa.Column("outcome_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("campaign_id", sa.String(length=255), nullable=True),
        sa.Column("ad_set_id", sa.String(length=255), nullable=True),
        sa.Column("click_day", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["outcome_id"], ["outcomes.id"], name=op.f("fk_attributions_outcome_id_outcomes"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("outcome_id", name=op.f("pk_attributions")),
    )
    op.create_index("ix_attributions_account_click_day", "attributions", ["account_id", "click_day"], unique=False)
    op.create_table(
        "outcome_webhook_deliveries",
        sa.Column("signature_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signature_sha256", name=op.f("pk_outcome_webhook_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("outcome_webhook_deliveries")
    op.drop_index("ix_attributions_account_click_day", table_name="attributions")
    op.drop_table("attributions")
    op.drop_table("outcomes")
