"""What policies read (a Snapshot) and what they return (Proposals). Pure data, no I/O."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.records import Audience, Entity, MetricRow, SearchTermRow
from policies.daily_index import DailyIndex


@dataclass(frozen=True)
class ConversionRevision:
    """How much of one day's conversions the account had reported when it was `age_days` old.

    The agent stores account-level totals at every pull; comparing a day's young and mature
    (28+ days) figures gives the account's conversion-lag curve.
    """

    day: date
    age_days: int
    conversions: float
    conversion_value: Decimal


@dataclass(frozen=True)
class OutcomeFact:
    """One CRM stage attributed to an ad set: the record, the stage, the click day it is credited to
    and the day the CRM reached it (UTC), with its amount in the account's currency (pipeline and won
    stages; None otherwise or in another currency)."""

    record_id: str
    ad_set_id: str
    stage: str
    click_day: date
    stage_day: date
    amount: Decimal | None = None


@dataclass(frozen=True)
class BudgetMove:
    """A budget change executed on an entity: the day (account time zone) and the budgets."""

    day: date
    before: Decimal
    after: Decimal

    @property
    def raised(self) -> bool:
        return self.after > self.before


@dataclass(frozen=True)
class KnownChange:
    """A change whose effect on delivery is expected: one the agent executed, or a person's
    annotation (a promotion, a site outage). Anomaly flags it covers are explained, not alarms.

    `entity_id` None: the whole account. `direction`: the spend shift it explains ("down" for a
    pause or a cut, "up" for an enable or a raise; None: either way). `end` None: as long as the
    anomaly settings' `known_change_days` after `start`.
    """

    start: date
    description: str
    source: str  # "agent" or "annotation"
    entity_id: str | None = None
    direction: str | None = None
    end: date | None = None


@dataclass(frozen=True)
class Snapshot:
    """One account's entities and daily metrics, as stored, for the days a policy may look at.

    `daily` holds ad-set and ad rows per entity id, oldest first. `reach_estimates` maps a set of
    audience ids to the platform's estimate of their union's reach (singles and pairs).
    `recent_changes` lists, per entity, the days the agent (or a human) changed it;
    `recent_budget_moves` the budget changes among them, oldest first (for hysteresis and the
    remedy ladder: at least the pause test's window);
    `known_changes` the agent's executed changes and people's annotations (anomalies explain by them).
    """

    account_id: str
    platform: str
    currency: str
    timezone: str
    today: date
    entities: Mapping[str, Entity]
    daily: Mapping[str, Sequence[MetricRow]]
    protected_entities: frozenset[str] = frozenset()
    monthly_budget: Decimal | None = None
    search_terms: Sequence[SearchTermRow] = ()
    audiences: Sequence[Audience] = ()
    reach_estimates: Mapping[frozenset[str], int] = field(default_factory=dict)
    recent_changes: Mapping[str, Sequence[date]] = field(default_factory=dict)
    conversion_revisions: Sequence[ConversionRevision] = ()
    recent_budget_moves: Mapping[str, Sequence[BudgetMove]] = field(default_factory=dict)
    known_changes: Sequence[KnownChange] = ()
    outcomes: Sequence[OutcomeFact] = ()  # attributed CRM stages known by `today` (value sources)

    def rows(self, entity_id: str, start: date, end: date) -> list[MetricRow]:
        """The entity's rows with `start <= day <= end`."""
        return self.index.rows(entity_id, start, end)

    @property
    def index(self) -> DailyIndex:
        """Lookups over `daily` (per-entity windows, per-day sums), built on first use and kept with
        this snapshot, so every policy evaluating it shares them."""
        index = self.__dict__.get("_index")
        if index is None:
            index = DailyIndex(self.daily)
            object.__setattr__(self, "_index", index)  # a cache, not state: the snapshot is immutable
        return index

    def replaced(self, **changes: Any) -> Snapshot:
        """`dataclasses.replace(self, **changes)` that keeps the index (and what is memoised on it,
        such as the lag curve) when `daily`, `today` and `conversion_revisions` stay."""
        snapshot = dataclasses.replace(self, **changes)
        if not {"daily", "today", "conversion_revisions"} & changes.keys():
            object.__setattr__(snapshot, "_index", self.index)
        return snapshot


@dataclass(frozen=True)
class Totals:
    """Summed delivery over a window, with the ratios marketers read."""

    spend: Decimal = Decimal(0)
    impressions: int = 0
    clicks: int = 0
    conversions: float = 0.0
    conversion_value: Decimal = Decimal(0)
    days: int = 0

    @classmethod
    def of(cls, rows: Sequence[MetricRow]) -> Totals:
        return cls(
            spend=sum((r.spend for r in rows), Decimal(0)),
            impressions=sum(r.impressions for r in rows),
            clicks=sum(r.clicks for r in rows),
            conversions=sum(r.conversions for r in rows),
            conversion_value=sum((r.conversion_value for r in rows), Decimal(0)),
            days=len(rows),
        )

    @property
    def roas(self) -> float | None:
        return float(self.conversion_value / self.spend) if self.spend > 0 else None

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def cpc(self) -> Decimal | None:
        return self.spend / self.clicks if self.clicks else None

    @property
    def cpa(self) -> Decimal | None:
        return self.spend / Decimal(str(self.conversions)) if self.conversions else None


@dataclass(frozen=True)
class Proposal:
    """A change a policy recommends, with the rationale in words and the evidence behind it.

    `change` holds `from` and `to` states (e.g. `{"from": {"status": "ACTIVE"}, "to": {"status":
    "PAUSED"}}`); the executor re-reads the live entity and compares it with `from` before acting.
    """

    kind: str
    policy: str
    account_id: str
    entity_id: str
    entity_level: str
    entity_name: str
    change: Mapping[str, Any]
    rationale: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def about(cls, account_id: str, entity: Entity, *, kind: str, policy: str, change: Mapping[str, Any],
              rationale: str, evidence: Mapping[str, Any]) -> Proposal:
        """A proposal to change `entity` of `account_id` (id, level and name taken from the entity)."""
        return cls(kind=kind, policy=policy, account_id=account_id, entity_id=entity.entity_id,
                   entity_level=entity.level, entity_name=entity.name, change=change, rationale=rationale,
                   evidence=evidence)


PAUSE_CHANGE: Mapping[str, Any] = {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}
