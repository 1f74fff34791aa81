"""Today's partial metric rows (`intraday_metrics`): written by the pull during the day, read by the
user rules' `today` and `month_to_date` windows. A later pull of the same day overwrites its row; rows
of past days are deleted once their complete row is in `daily_metrics` (the daily pull restates them)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import Connection, delete, insert, select

from agent.storage.models import IntradayMetric
from agent.storage.store import metric_row_of
from connectors.records import MetricRow


def replace_intraday(connection: Connection, account_id: str, day: date, rows: Iterable[MetricRow],
                     now: datetime) -> int:
    """Store `day`'s partial rows for the account (replacing that day's earlier pull, dropping earlier
    days'); returns how many were written."""
    connection.execute(delete(IntradayMetric).where(IntradayMetric.account_id == account_id,
                                                    IntradayMetric.day <= day))
    values = [{"platform": r.platform, "account_id": account_id, "entity_id": r.entity_id, "day": day,
               "level": r.level, "currency": r.currency, "spend": r.spend, "impressions": r.impressions,
               "clicks": r.clicks, "conversions": r.conversions, "conversion_value": r.conversion_value,
               "reach": r.reach, "pulled_at": now} for r in rows if r.day == day]
    if values:
        connection.execute(insert(IntradayMetric), values)
    return len(values)


def load_intraday(connection: Connection, account_id: str, day: date) -> tuple[list[MetricRow], datetime | None]:
    """The account's partial rows of `day`, and when they were pulled (None: none pulled)."""
    query = select(IntradayMetric.__table__).where(IntradayMetric.account_id == account_id,
                                                   IntradayMetric.day == day)
    found = list(connection.execute(query).mappings())
    rows = [metric_row_of(r) for r in found]
    return rows, max((r["pulled_at"] for r in found), default=None)
