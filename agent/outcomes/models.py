"""Tables of CRM outcomes: one row per (CRM id, stage), its attribution, and the webhook deliveries seen.

Declarative models in their own MetaData (listed in migrations/env_metadata.py). Money columns are
integer micros (`agent.models.Money`) with the currency beside them. Personal data is stored only as
SHA-256 of the normalized value.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agent.storage.models import MONEY, NAMING_CONVENTION


class OutcomesBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


OUTCOMES_METADATA = OutcomesBase.metadata


class Outcome(OutcomesBase):
    """A CRM record reaching a stage. Re-imports update it in place; a new stage is a new row."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crm_id: Mapped[str] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(16))
    stage_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    gclid: Mapped[str | None] = mapped_column(String(255))
    gbraid: Mapped[str | None] = mapped_column(String(255))
    wbraid: Mapped[str | None] = mapped_column(String(255))
    fbclid: Mapped[str | None] = mapped_column(String(255))
    fbc: Mapped[str | None] = mapped_column(String(255))
    li_fat_id: Mapped[str | None] = mapped_column(String(255))
    utm_source: Mapped[str | None] = mapped_column(String(255))
    utm_medium: Mapped[str | None] = mapped_column(String(255))
    utm_campaign: Mapped[str | None] = mapped_column(String(255))
    utm_content: Mapped[str | None] = mapped_column(String(255))
    utm_term: Mapped[str | None] = mapped_column(String(255))
    email_sha256: Mapped[str | None] = mapped_column(String(64))
    phone_sha256: Mapped[str | None] = mapped_column(String(64))
    ad_user_data: Mapped[str | None] = mapped_column(String(16))  # EEA consent: granted | denied
    ad_personalization: Mapped[str | None] = mapped_column(String(16))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(255))  # "file:<name>" or "webhook"

    __table_args__ = (UniqueConstraint("crm_id", "stage"),)


class Attribution(OutcomesBase):
    """Where an outcome came from, recomputed from the outcomes and the rules; never edited by hand."""

    __tablename__ = "attributions"

    outcome_id: Mapped[int] = mapped_column(ForeignKey(Outcome.id, ondelete="CASCADE"), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))  # click_id | utm | unattributed
    platform: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(128))
    campaign_id: Mapped[str | None] = mapped_column(String(255))
    ad_set_id: Mapped[str | None] = mapped_column(String(255))
    click_day: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(255))  # why unattributed
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_attributions_account_click_day", "account_id", "click_day"),)


class WebhookDelivery(OutcomesBase):
    """Signatures of accepted `POST /outcomes` deliveries: the same signed request twice is a replay."""

    __tablename__ = "outcome_webhook_deliveries"

    signature_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConversionUpload(OutcomesBase):
    """The uploads ledger: one row per (CRM record, stage, platform) ever sent, written (`sending`)
    before the request and settled after it, so nothing is uploaded twice (agent/outcomes/uploads_execute.py).

    States: sending (sent, no answer recorded yet: re-sent with the same event id), uploaded,
    rejected, skipped (past the platform's age limit, or nothing to match on), retracted (a lost deal,
    taken back), not_retractable (lost, but the platform cannot take an event back)."""

    __tablename__ = "conversion_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crm_id: Mapped[str] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(128))
    destination: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    action_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(512))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("crm_id", "stage", "platform"),
                      Index("ix_conversion_uploads_account_state", "account_id", "state"))
