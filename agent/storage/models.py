"""SQLAlchemy 2 tables: what the agent has seen, what it proposed, and what it did.

Money columns are NUMERIC (exact) and read back as `Decimal`; the currency is stored beside it.
Alembic migrations in `migrations/versions/` must agree with these models (a test checks it).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

MICROS = Decimal(1_000_000)


def to_micros(value: Decimal | None) -> int | None:
    """Money as integer micros, rounded half-even (the one place amounts are converted)."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        value = Decimal(value)
    # scaleb moves the exponent without touching the digits (exact), round() of a Decimal is half-even
    # to an int: the same result as (value x 10^6).to_integral_value(ROUND_HALF_EVEN) at a third of its cost
    return round(value.scaleb(6))


def from_micros(value: int) -> Decimal:
    """Integer micros back as money (`Money` does it per column; raw reads call it themselves)."""
    return Decimal(value) / MICROS


class Money(TypeDecorator[Decimal]):
    """Exact money as integer micros (millionths of the currency unit), the same on every database.

    SQLite has no exact decimal type (NUMERIC silently becomes a float there); integer micros stay
    exact on both SQLite and PostgreSQL and still sum in SQL. Values come back as `Decimal`.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return to_micros(value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_micros(value)


MONEY = Money()
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Account(Base):
    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EntityRecord(Base):
    """The latest known settings of a campaign, ad set, ad or keyword."""

    __tablename__ = "entities"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    platform: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    daily_budget: Mapped[Decimal | None] = mapped_column(MONEY)
    learning: Mapped[bool] = mapped_column(Boolean, default=False)
    last_changed: Mapped[date | None] = mapped_column(Date)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeliveryColumns:
    """The columns of one entity's delivery on one account-local day (a `MetricRow` as stored), shared by
    complete days (`daily_metrics`) and the current day so far (`intraday_metrics`)."""

    platform: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    spend: Mapped[Decimal] = mapped_column(MONEY)
    impressions: Mapped[int] = mapped_column(BigInteger)
    clicks: Mapped[int] = mapped_column(BigInteger)
    conversions: Mapped[float] = mapped_column(Float)
    conversion_value: Mapped[Decimal] = mapped_column(MONEY)
    reach: Mapped[int | None] = mapped_column(BigInteger)
    pulled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DailyMetric(DeliveryColumns, Base):
    """One entity's delivery on one account-local day; re-pulls overwrite restated days."""

    __tablename__ = "daily_metrics"

    __table_args__ = (Index("ix_daily_metrics_account_day", "account_id", "day"),)


class IntradayMetric(DeliveryColumns, Base):
    """One entity's delivery so far on the account's current day, pulled during the day for rules that
    read `today` (agent/storage/intraday_store.py). Kept apart from `daily_metrics`, which holds
    complete days only: the built-in policies never see a partial day, and the day's complete row
    replaces this one's use once it is pulled (the next day's pull restates it)."""

    __tablename__ = "intraday_metrics"


class SearchTerm(Base):
    """A Google Ads search-term report line."""

    __tablename__ = "search_terms"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ad_group_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    search_term: Mapped[str] = mapped_column(String(512), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(255))
    impressions: Mapped[int] = mapped_column(BigInteger)
    clicks: Mapped[int] = mapped_column(BigInteger)
    spend: Mapped[Decimal] = mapped_column(MONEY)
    conversions: Mapped[float] = mapped_column(Float)
    conversion_value: Mapped[Decimal] = mapped_column(MONEY)
    pulled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Cycle(Base):
    """One run of pull -> store -> evaluate -> gate."""

    __tablename__ = "cycles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Action(Base):
    """A proposal and its life: the state machine of `agent/storage/action_states.py` moves `state`."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    account_id: Mapped[str] = mapped_column(String(128))
    entity_id: Mapped[str] = mapped_column(String(255))
    entity_level: Mapped[str] = mapped_column(String(16))
    entity_name: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(32))
    policy: Mapped[str] = mapped_column(String(64))
    change: Mapped[dict[str, Any]] = mapped_column(JSON)
    rationale: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    permission: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(24))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_actions_state", "state"),
        Index("ix_actions_entity", "account_id", "entity_id"),
    )


class AuditEvent(Base):
    """An append-only record: every proposal, decision, approval and execution result.

    `at` is the real wall-clock time the event was written, so the trail stays in order and
    `audit export --since` finds it; `simulated_day` is the day the agent's clock said (the
    `--today` of a simulation or replay, else the real UTC day)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    simulated_day: Mapped[date | None] = mapped_column(Date)
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id"))
    account_id: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_events_at", "at"),)


class ConversionRevisionRecord(Base):
    """An account's total conversions for one day as reported on one pull date.

    Comparing a day's young and mature figures gives the account's conversion-lag curve, which
    keeps policies from pausing late-converting winners.
    """

    __tablename__ = "conversion_revisions"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    pulled_on: Mapped[date] = mapped_column(Date, primary_key=True)
    conversions: Mapped[float] = mapped_column(Float)
    conversion_value: Mapped[Decimal] = mapped_column(MONEY)


class AudienceRecord(Base):
    """A targetable audience and its estimated size."""

    __tablename__ = "audiences"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    audience_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    estimated_size: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReachEstimate(Base):
    """The platform's reach estimate for a union of audiences (ids sorted, joined by `|`)."""

    __tablename__ = "reach_estimates"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    audience_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    reach: Mapped[int] = mapped_column(BigInteger)
    estimated_on: Mapped[date] = mapped_column(Date)
    # hash of what was asked (the audiences as the platform describes them, the ad sets' countries):
    # an estimate is asked again when it changes, or at the account's weekly refresh
    definition: Mapped[str | None] = mapped_column(String(64))


class CopyDraft(Base):
    """When the copywriter last drafted for an ad set (drafts are made at most once per period)."""

    __tablename__ = "copy_drafts"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ad_set_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    drafted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AgentFlag(Base):
    """Operator switches that must survive restarts and reach every process (the kill switch)."""

    __tablename__ = "agent_flags"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    """A person who signs in to the web console (`paid-media-agent users add`); see agent/auth/."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string
    role: Mapped[str] = mapped_column(String(16))  # viewer | approver | admin
    accounts: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every account
    session_nonce: Mapped[str] = mapped_column(String(64))  # in every session; a new user gets a new one
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Annotation(Base):
    """A person's note on an account's days (`paid-media-agent annotate`): a promotion, a site
    outage. The anomaly detector explains shifts on those days by it."""

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    start_day: Mapped[date] = mapped_column(Date)
    end_day: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Alert(Base):
    """An alert pushed (or waiting for the day's digest) to Slack or email: kept for deduplication."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    key: Mapped[str] = mapped_column(String(255), index=True)  # the same alert has the same key
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # None: waits
