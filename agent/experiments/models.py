"""The `experiments` table: one row per randomized (entity, action kind) assignment; and the
`copy_tests` table: one row per approved copy draft launched (or to be launched) against the ad it
challenges.

The arm, seed and draw time are written once, at gate time, before any outcome is seen; only the
estimate columns are filled in later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, Index, Integer, MetaData, String, Text, UniqueConstraint
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
    # the unit of randomization: "entity", or "campaign" (the arm is the campaign's `cluster_id` draw,
    # shared by every entity of the campaign proposed during its horizon)
    unit: Mapped[str] = mapped_column(String(16), default="entity", server_default="entity")
    cluster_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    estimate: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    estimated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_experiments_pair", "account_id", "entity_id", "kind"),
                      Index("ix_experiments_cluster", "account_id", "cluster_id", "kind"))


class CopyTest(ExperimentsBase):
    """A launched copy draft (the challenger) against the ad it challenges (the incumbent), from the
    draft's execution to the verdict. Status: `launching` (the launch waits for the gate),
    `running`, `ended` (a verdict: `outcome` says who won), `not_launched` (refused, or nothing to
    test against), `interrupted` (an ad of the test was paused or removed outside the test)."""

    __tablename__ = "copy_tests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128))
    platform: Mapped[str] = mapped_column(String(32))
    ad_set_id: Mapped[str] = mapped_column(String(255))
    draft_action_id: Mapped[int] = mapped_column(Integer)  # the executed new_ad action
    challenger_ad_id: Mapped[str] = mapped_column(String(255))
    incumbent_ad_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # the account's day of the launch
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    predicted_ctr: Mapped[float | None] = mapped_column(Float, nullable=True)
    predicted_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    predicted_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    interval_level: Mapped[float | None] = mapped_column(Float, nullable=True)
    # the log shift earlier launches' errors applied to the prediction (agent/copywriter/launch_feedback.py)
    feedback_log_shift: Mapped[float | None] = mapped_column(Float, nullable=True)
    observed_ctr: Mapped[float | None] = mapped_column(Float, nullable=True)  # the challenger's, over the test
    incumbent_ctr: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    winner_ad_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    loser_ad_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # impressions, clicks, conversions, z

    __table_args__ = (UniqueConstraint("draft_action_id", name="uq_copy_tests_draft_action_id"),
                      Index("ix_copy_tests_account_status", "account_id", "status"))
