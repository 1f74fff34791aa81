"""Prospecting exclusions and Meta phone matching: the id a platform uses a synced audience by (a LinkedIn
DMP segment's ad segment), and each imported phone's hash in Meta's form (digits without the +)

Revision ID: 0018_prospect
Revises: 0017_copytest
Create Date: 2026-12-05 21:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_prospect"
down_revision: str | None = "0017_copytest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audience_destinations",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("audience_id", sa.String(length=64), nullable=False),
        sa.Column("destination_id", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "audience_id", name=op.f("pk_audience_destinations")),
    )
    op.create_table(
        "crm_phone_forms",
        sa.Column("phone_sha256", sa.String(length=64), nullable=False),
        sa.Column("digits_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("phone_sha256", name=op.f("pk_crm_phone_forms")),
    )


def downgrade() -> None:
    op.drop_table("crm_phone_forms")
    op.drop_table("audience_destinations")
