"""The `experiments` table: one row per randomized (entity, action kind) assignment.

The arm, seed and draw time are written once, at gate time, before any outcome is seen; only the
estimate columns are filled in later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agent.storage.models import NAMING_CONVENTION


class ExperimentsBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


EXPERIMENTS_METADATA = ExperimentsBase.metadata


class Experiment(ExperimentsBase):
    """An (entity, kind) pair's arm for one horizon."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(Integer)  # the first proposal's action
    account_id: Mapped[str] = mapped_column(String(128))
    entity_id: Mapped[str] = mapped_column(String(255))
    entity_level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64))
    arm: Mapped[str] = mapped_column(String(16))
    draw_seed: Mapped[str] = mapped_column(String(32))  # 63-bit, kept as text for every database
    draw_uniform: Mapped[float] = mapped_column(Float)
    share: Mapped[float] = mapped_column(Float)
    drawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    horizon_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    measure_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # horizon + conversion lag
    estimate: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    estimated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_experiments_pair", "account_id", "entity_id", "kind"),)
