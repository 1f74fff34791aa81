"""Plain-data builders for policy tests: entities, daily rows and snapshots in a few lines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from connectors.records import Entity, MetricRow
from policies.base import ConversionRevision, Snapshot
from policies.conversion_lag import MATURITY_DAYS, LagCurve

TODAY = date(2024, 6, 20)  # a Thursday
NO_LAG = LagCurve((1.0,) * (MATURITY_DAYS + 1), "test: no lag")


def entity(entity_id: str, level: str = "ad_set", parent: str | None = "c1", budget: str | None = None,
           status: str = "ACTIVE", learning: bool = False, platform: str = "meta", currency: str = "USD",
           **attributes: Any) -> Entity:
    return Entity(platform, "acct", level, entity_id, parent, f"name-{entity_id}", status,  # type: ignore[arg-type]
                  currency, Decimal(budget) if budget is not None else None, learning, None, attributes)


Value = float | Callable[[date], float]


def _at(value: Value, day: date) -> float:
    return value(day) if callable(value) else value


def rows(entity_id: str, days: int, spend: Value, clicks: Value = 100, impressions: Value = 5000,
         conversions: Value = 5, value: Value = 500, level: str = "ad_set", end: date | None = None,
         reach: Value | None = None, currency: str = "USD") -> list[MetricRow]:
    """`days` daily rows ending `end` (default yesterday); each metric a constant or a function of the day."""
    end = end or TODAY - timedelta(days=1)
    result = []
    for offset in range(days - 1, -1, -1):
        day = end - timedelta(days=offset)
        result.append(MetricRow(
            "meta", "acct", level, entity_id, day, currency,  # type: ignore[arg-type]
            Decimal(str(round(_at(spend, day), 2))), int(_at(impressions, day)), int(_at(clicks, day)),
            float(_at(conversions, day)), Decimal(str(round(_at(value, day), 2))),
            None if reach is None else int(_at(reach, day)),
        ))
    return result


def snapshot(entities: Iterable[Entity], metric_rows: Iterable[MetricRow] = (), today: date = TODAY,
             **kwargs: Any) -> Snapshot:
    daily: dict[str, list[MetricRow]] = defaultdict(list)
    for row in sorted(metric_rows, key=lambda r: r.day):
        daily[row.entity_id].append(row)
    return Snapshot(
        account_id="acct", platform="meta", currency=kwargs.pop("currency", "USD"), timezone="UTC", today=today,
        entities={e.entity_id: e for e in entities}, daily=dict(daily), **kwargs,
    )


def revisions_for_curve(completeness: Sequence[float], days: int = 40, final: float = 100.0,
                        today: date = TODAY) -> list[ConversionRevision]:
    """Revision history of an account whose days report `completeness[k]` of `final` at age k."""
    result = []
    for offset in range(1, days + 1):
        day = today - timedelta(days=offset)
        for age in range(0, min(offset, len(completeness) - 1) + 1):
            share = completeness[age]
            result.append(ConversionRevision(day, age, final * share, Decimal(str(final * share * 10))))
    return result
