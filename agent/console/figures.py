"""The numbers on the console's pages, read from our store and corrected for conversion lag.

A day's conversions keep arriving for weeks (policies/conversion_lag.py). The console shows each
figure as reported and, beside it, the lag-corrected estimate: reported value / completeness of the
day at its age. A day whose completeness is below `COMPLETE_AT` is marked incomplete.

Baseline (defined on every page that shows it): the ROAS of the `BASELINE_DAYS` days before the
period shown, lag-corrected the same way, so a recent period is compared with a like-for-like past.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from agent.clock import Clock, local_today
from agent.config import AccountConfig, AgentConfig
from agent.decisions.snapshots import SNAPSHOT_HISTORY_DAYS, load_snapshot
from connectors.records import Entity, MetricRow
from policies.base import Snapshot
from policies.conversion_lag import LagCurve, lag_curve

BASELINE_DAYS = 28
DEFAULT_PERIOD_DAYS = 14
MAX_PERIOD_DAYS = SNAPSHOT_HISTORY_DAYS - BASELINE_DAYS
COMPLETE_AT = 0.995
BASELINE_TEXT = (f"Baseline: the ROAS of the {BASELINE_DAYS} days before the period shown, with late conversions "
                 "estimated the same way; the change compares the period's estimated ROAS with it.")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @classmethod
    def parse(cls, start: str | None, end: str | None, yesterday: date) -> Period:
        """The period asked for (ISO dates), defaulting to the two weeks up to yesterday; bounded."""
        def day(text: str | None, default: date) -> date:
            try:
                return date.fromisoformat(text) if text else default
            except ValueError:
                return default

        last = min(day(end, yesterday), yesterday)
        first = day(start, last - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
        first = max(min(first, last), last - timedelta(days=MAX_PERIOD_DAYS - 1))
        return cls(first, last)


@dataclass
class Figures:
    """One row of a table (an account, campaign or ad set) over a period, in one currency."""

    level: str
    entity_id: str
    name: str
    status: str
    currency: str
    spend: Decimal = Decimal(0)
    value: Decimal = Decimal(0)
    estimated_value: Decimal = Decimal(0)
    conversions: float = 0.0
    estimated_conversions: float = 0.0
    clicks: int = 0
    impressions: int = 0
    incomplete_days: int = 0
    baseline_roas: float | None = None
    daily_budget: Decimal | None = None

    @property
    def roas(self) -> float | None:
        return float(self.value / self.spend) if self.spend > 0 else None

    @property
    def estimated_roas(self) -> float | None:
        return float(self.estimated_value / self.spend) if self.spend > 0 else None

    @property
    def vs_baseline(self) -> float | None:
        if self.estimated_roas is None or not self.baseline_roas:
            return None
        return (self.estimated_roas - self.baseline_roas) / self.baseline_roas * 100


@dataclass(frozen=True)
class DayPoint:
    day: date
    spend: Decimal
    value: Decimal
    estimated_value: Decimal
    completeness: float

    @property
    def incomplete(self) -> bool:
        return self.completeness < COMPLETE_AT


@dataclass
class AccountData:
    """One account's snapshot, lag curve and the local dates that frame its figures."""

    account: AccountConfig
    snapshot: Snapshot
    curve: LagCurve
    today: date
    entities: dict[str, Entity] = field(default_factory=dict)

    @property
    def yesterday(self) -> date:
        return self.today - timedelta(days=1)

    def completeness(self, day: date) -> float:
        return self.curve.for_day(day, self.today)

    def ad_sets(self, status: str = "") -> list[Entity]:
        return [e for e in self.entities.values()
                if e.level == "ad_set" and (not status or e.status.lower() == status.lower())]

    def campaigns(self, status: str = "") -> list[Entity]:
        return [e for e in self.entities.values()
                if e.level == "campaign" and (not status or e.status.lower() == status.lower())]

    def rows_of(self, ad_sets: Iterable[Entity], start: date, end: date) -> list[MetricRow]:
        return [r for e in ad_sets for r in self.snapshot.rows(e.entity_id, start, end)]

    def figures(self, level: str, entity_id: str, name: str, status: str, ad_sets: Sequence[Entity],
                period: Period, daily_budget: Decimal | None = None) -> Figures:
        result = Figures(level=level, entity_id=entity_id, name=name, status=status,
                         currency=self.account.currency, daily_budget=daily_budget)
        for point in self.series(ad_sets, period):
            result.spend += point.spend
            result.value += point.value
            result.estimated_value += point.estimated_value
            result.incomplete_days += point.incomplete
        for row in self.rows_of(ad_sets, period.start, period.end):
            result.conversions += row.conversions
            result.estimated_conversions += row.conversions / max(self.completeness(row.day), 0.05)
            result.clicks += row.clicks
            result.impressions += row.impressions
        before = Period(period.start - timedelta(days=BASELINE_DAYS), period.start - timedelta(days=1))
        spend = value = Decimal(0)
        for point in self.series(ad_sets, before):
            spend += point.spend
            value += point.estimated_value
        result.baseline_roas = float(value / spend) if spend > 0 else None
        return result

    def series(self, ad_sets: Iterable[Entity], period: Period) -> list[DayPoint]:
        by_day: dict[date, list[MetricRow]] = defaultdict(list)
        for row in self.rows_of(ad_sets, period.start, period.end):
            by_day[row.day].append(row)
        points = []
        for day in period.days:
            rows = by_day.get(day, [])
            share = self.completeness(day)
            value = sum((r.conversion_value for r in rows), Decimal(0))
            points.append(DayPoint(day=day, spend=sum((r.spend for r in rows), Decimal(0)), value=value,
                                   estimated_value=value / Decimal(str(max(share, 0.05))), completeness=share))
        return points


def load_account(engine: Engine, account: AccountConfig, clock: Clock) -> AccountData:
    snapshot = load_snapshot(engine, account, local_today(clock, account.timezone), clock)
    return AccountData(account=account, snapshot=snapshot, curve=lag_curve(snapshot), today=snapshot.today,
                       entities=dict(snapshot.entities))


@dataclass(frozen=True)
class Blended:
    """Totals in one currency; `converted` says the figure is in the reporting currency via FX."""

    currency: str
    spend: Decimal
    value: Decimal
    estimated_value: Decimal
    accounts: int
    converted: bool = False

    @property
    def roas(self) -> float | None:
        return float(self.value / self.spend) if self.spend > 0 else None

    @property
    def estimated_roas(self) -> float | None:
        return float(self.estimated_value / self.spend) if self.spend > 0 else None


def fx_rate(config: AgentConfig, currency: str) -> Decimal | None:
    """Units of the reporting currency per unit of `currency` (None when not configured)."""
    if currency == config.reporting.currency:
        return Decimal(1)
    return config.reporting.fx_rates.get(currency)


def blend(rows: Sequence[Figures], config: AgentConfig) -> tuple[list[Blended], Blended | None, list[str]]:
    """Per-currency totals; the all-currency total in the reporting currency when every rate is
    configured; and the currencies that lack a rate."""
    by_currency: dict[str, list[Figures]] = defaultdict(list)
    for row in rows:
        by_currency[row.currency].append(row)

    def total(currency: str, items: Sequence[Figures], rate: Callable[[str], Decimal], converted: bool) -> Blended:
        return Blended(currency=currency, spend=sum((r.spend * rate(r.currency) for r in items), Decimal(0)),
                       value=sum((r.value * rate(r.currency) for r in items), Decimal(0)),
                       estimated_value=sum((r.estimated_value * rate(r.currency) for r in items), Decimal(0)),
                       accounts=len(items), converted=converted)

    per_currency = [total(c, items, lambda _c: Decimal(1), False) for c, items in sorted(by_currency.items())]
    missing = [c for c in by_currency if fx_rate(config, c) is None]
    overall = None
    if rows and not missing:
        overall = total(config.reporting.currency, rows, lambda c: fx_rate(config, c) or Decimal(0), True)
    return per_currency, overall, missing
