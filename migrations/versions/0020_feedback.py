"""Copy tests record the shift that earlier launches' errors applied to the draft's predicted CTR, so
the next estimate of that shift reads each launch's error against its prediction before it

Revision ID: 0020_feedback
Revises: 0019_cluster
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_feedback"
down_revision: str | None = "0019_cluster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("copy_tests", sa.Column("feedback_log_shift", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("copy_tests") as batch:
        batch.drop_column("feedback_log_shift")
