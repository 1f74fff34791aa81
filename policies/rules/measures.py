"""What a rule's comparison reads: a metric of one entity over a window, as observed.

Windows are the account's own days: `today` (so far: only where the connector pulled today's partial
rows), `yesterday`, `last_N_days` (N complete days ending yesterday) and `month_to_date` (the 1st up to
today, today's partial rows included if any). A campaign reads the sum of its ad sets.

Ratios with nothing under them are `None` ("no data": the comparison does not hold), except CPA, which is
infinite when money was spent without a conversion (so `cpa > 80` holds after spend with no conversion).
CTR is in percent, as the platforms' own rules show it; frequency is impressions per reached person,
averaged over the window's days (None where the platform reports no reach). `budget` (the daily budget
funding the entity now, whatever the window) is read in evaluate.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from connectors.records import Entity, MetricRow
from policies.base import Snapshot


@dataclass(frozen=True)
class WindowDays:
    start: date
    end: date


def window_days(window: str, today: date) -> WindowDays:
    """The first and last day of `window` (schema: today, yesterday, month_to_date, last_N_days)."""
    if window == "today":
        return WindowDays(today, today)
    if window == "yesterday":
        return WindowDays(today - timedelta(days=1), today - timedelta(days=1))
    if window == "month_to_date":
        return WindowDays(today.replace(day=1), today)
    days = int(window.removeprefix("last_").removesuffix("_days"))
    return WindowDays(today - timedelta(days=days), today - timedelta(days=1))


def ad_sets_of(snapshot: Snapshot, entity: Entity) -> list[str]:
    """The ad sets whose delivery is the entity's: itself, or a campaign's ad sets."""
    if entity.level == "ad_set":
        return [entity.entity_id]
    return sorted(e.entity_id for e in snapshot.entities.values()
                  if e.level == "ad_set" and e.parent_id == entity.entity_id)


def budget_holder(snapshot: Snapshot, entity: Entity) -> Entity | None:
    """The entity holding the budget that funds `entity`: itself, or its campaign (Google), or None."""
    if entity.daily_budget is not None:
        return entity
    parent = snapshot.entities.get(entity.parent_id or "")
    return parent if parent is not None and parent.daily_budget is not None else None


def window_rows(snapshot: Snapshot, entity: Entity, window: str) -> list[MetricRow]:
    days = window_days(window, snapshot.today)
    return [row for entity_id in ad_sets_of(snapshot, entity)
            for row in snapshot.rows(entity_id, days.start, days.end) if row.level == "ad_set"]


def metric_value(metric: str, rows: Sequence[MetricRow]) -> float | None:
    """The observed `metric` over `rows` (see the module docstring for ratios without data)."""
    spend = sum((r.spend for r in rows), Decimal(0))
    impressions = sum(r.impressions for r in rows)
    clicks = sum(r.clicks for r in rows)
    conversions = sum(r.conversions for r in rows)
    value = sum((r.conversion_value for r in rows), Decimal(0))
    if metric == "spend":
        return float(spend)
    if metric == "impressions":
        return float(impressions)
    if metric == "clicks":
        return float(clicks)
    if metric == "conversions":
        return float(conversions)
    if metric == "conversion_value":
        return float(value)
    if metric == "ctr":
        return 100.0 * clicks / impressions if impressions else None
    if metric == "cpc":
        return float(spend) / clicks if clicks else None
    if metric == "cpa":
        if conversions > 0:
            return float(spend) / conversions
        return math.inf if spend > 0 else None
    if metric == "roas":
        return float(value / spend) if spend > 0 else None
    if metric == "frequency":
        reached = [r for r in rows if r.reach]
        people = sum(r.reach or 0 for r in reached)
        return sum(r.impressions for r in reached) / people if people else None
    raise ValueError(f"unknown metric {metric!r}")
