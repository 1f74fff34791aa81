"""Each ad set's stored spend over a span of days (what the reach plan needs before a pull)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, func, select

from agent.storage.models import DailyMetric


def ad_set_spend(connection: Connection, account_id: str, start: date, end: date) -> dict[str, Decimal]:
    """Stored ad-set-level spend per ad set over `start..end` inclusive."""
    query = (select(DailyMetric.entity_id, func.sum(DailyMetric.spend))
             .where(DailyMetric.account_id == account_id, DailyMetric.level == "ad_set",
                    DailyMetric.day >= start, DailyMetric.day <= end)
             .group_by(DailyMetric.entity_id))
    return {str(entity_id): Decimal(str(total)) for entity_id, total in connection.execute(query) if total is not None}
