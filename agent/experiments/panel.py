"""Each experiment's entity before and after its draw, read from the stored daily metrics.

Pre-period: the horizon's length of account-local days before the day of the draw. Post-period:
the horizon from the day of the draw. A day without a row counts as zero (a paused ad set reports
nothing); a campaign's figures are its ad sets' (metrics are stored per ad set and ad). An entity
that took its campaign's arm after the draw is measured from the day it joined to the end of the
campaign's horizon (and as many days before). Only experiments past their horizon plus the
conversion lag (`measure_after`) are read: their late conversions are in. Entities drawn with their
campaign carry it as their cluster (the bootstrap resamples campaigns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from agent.storage.action_states import as_utc
from agent.storage.store import load_daily_metrics, load_entities
from policies.impact import EntityOutcome, PeriodTotals


def local_day(moment: datetime, timezone: str) -> date:
    return as_utc(moment).astimezone(ZoneInfo(timezone)).date()


def _totals(rows: Sequence[Any], start: date, end: date, rate: float) -> PeriodTotals:
    inside = [r for r in rows if start <= r.day <= end]
    return PeriodTotals(days=(end - start).days + 1, spend=float(sum(r.spend for r in inside)) * rate,
                        conversions=float(sum(r.conversions for r in inside)),
                        value=float(sum(r.conversion_value for r in inside)) * rate)


def measured_outcomes(connection: Connection, experiments: Sequence[Mapping[str, Any]],
                      timezones: Mapping[str, str], now: datetime,
                      rates: Mapping[str, float] | None = None) -> list[EntityOutcome]:
    """The before/after totals of every experiment whose measurement is due (`measure_after` <= now),
    money multiplied by the account's rate in `rates` (1 without one)."""
    outcomes: list[EntityOutcome] = []
    for row in experiments:
        if as_utc(row["measure_after"]) > now or row["account_id"] not in timezones:
            continue
        timezone = timezones[row["account_id"]]
        rate = (rates or {}).get(row["account_id"], 1.0)
        drawn = local_day(row["drawn_at"], timezone)
        horizon = max(1, (as_utc(row["horizon_end"]) - as_utc(row["drawn_at"])).days)
        pre_start, post_end = drawn - timedelta(days=horizon), drawn + timedelta(days=horizon - 1)
        daily = load_daily_metrics(connection, row["account_id"], pre_start, post_end)
        rows = daily.get(row["entity_id"], [])
        if row["entity_level"] == "campaign" and not rows:  # metrics are stored per ad set: add its ad sets up
            children = [e.entity_id for e in load_entities(connection, row["account_id"]).values()
                        if e.parent_id == row["entity_id"] and e.level == "ad_set"]
            rows = [r for child in children for r in daily.get(child, [])]
        cluster = row.get("cluster_id") if row.get("unit") == "campaign" else None
        outcomes.append(EntityOutcome(
            entity_id=f"{row['account_id']}/{row['entity_id']}", kind=row["kind"], arm=row["arm"],
            cluster=f"{row['account_id']}/{cluster}" if cluster else None,
            pre=_totals(rows, pre_start, drawn - timedelta(days=1), rate),
            post=_totals(rows, drawn, post_end, rate)))
    return outcomes
