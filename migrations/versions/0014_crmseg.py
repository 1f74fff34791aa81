"""CRM segments: customer-list entries, segment members (hashed identifiers, consent), forgotten identifiers

Revision ID: 0014_crmseg
Revises: 0013_scale
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_crmseg"
down_revision: str | None = "0013_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_customers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_name", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("email_sha256", sa.String(length=64), nullable=True),
        sa.Column("phone_sha256", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("last_purchase_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("marketing_consent", sa.Boolean(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_customers")),
        sa.UniqueConstraint("list_name", "customer_id", name=op.f("uq_crm_customers_list_name")),
    )
    op.create_index("ix_crm_customers_email_sha256", "crm_customers", ["email_sha256"], unique=False)
    op.create_index("ix_crm_customers_phone_sha256", "crm_customers", ["phone_sha256"], unique=False)
    op.create_table(
        "crm_segments",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("consented", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_crm_segments")),
    )
    op.create_table(
        "crm_segment_members",
        sa.Column("segment", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["segment"], ["crm_segments.name"],
                                name=op.f("fk_crm_segment_members_segment_crm_segments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("segment", "kind", "sha256", name=op.f("pk_crm_segment_members")),
    )
    op.create_index("ix_crm_segment_members_sha256", "crm_segment_members", ["sha256"], unique=False)
    op.create_table(
        "crm_forgotten",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "sha256", name=op.f("pk_crm_forgotten")),
    )


def downgrade() -> None:
    op.drop_table("crm_forgotten")
    op.drop_index("ix_crm_segment_members_sha256", table_name="crm_segment_members")
    op.drop_table("crm_segment_members")
    op.drop_table("crm_segments")
    op.drop_index("ix_crm_customers_phone_sha256", table_name="crm_customers")
    op.drop_index("ix_crm_customers_email_sha256", table_name="crm_customers")
    op.drop_table("crm_customers")
