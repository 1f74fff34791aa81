"""Which entities hold daily budgets, and the delivery behind each.

Google-style accounts hold the budget on the campaign (its ad groups have none); Meta and LinkedIn
on the ad set. A policy that moves money works with whichever active entity has `daily_budget`,
and reads a campaign holder's delivery as the sum of its active ad sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from connectors.records import Entity
from policies.base import Snapshot
from policies.money import money_str


@dataclass(frozen=True)
class BudgetHolder:
    """An active entity with a daily budget and the ad sets whose spend it funds."""

    entity: Entity
    ad_set_ids: tuple[str, ...]

    @property
    def entity_id(self) -> str:
        return self.entity.entity_id

    @property
    def daily_budget(self) -> Decimal:
        assert self.entity.daily_budget is not None
        return self.entity.daily_budget


def budget_holders(snapshot: Snapshot) -> list[BudgetHolder]:
    """Active budget holders of the account, sorted by id, with the active ad sets they fund."""
    holders: list[BudgetHolder] = []
    entities = sorted(snapshot.entities.values(), key=lambda e: e.entity_id)
    active_children: dict[str | None, list[str]] = {}
    for entity in entities:
        if entity.level == "ad_set" and entity.status == "ACTIVE":
            active_children.setdefault(entity.parent_id, []).append(entity.entity_id)
    for entity in entities:
        if entity.daily_budget is None or entity.status != "ACTIVE":
            continue
        if entity.level == "ad_set":
            parent = snapshot.entities.get(entity.parent_id or "")
            if parent is not None and parent.status != "ACTIVE":
                continue
            holders.append(BudgetHolder(entity, (entity.entity_id,)))
        elif entity.level == "campaign":
            children = tuple(active_children.get(entity.entity_id, ()))
            if children:
                holders.append(BudgetHolder(entity, children))
    return holders


def daily_spend(snapshot: Snapshot, ad_set_ids: Sequence[str], start: date, end: date) -> dict[date, Decimal]:
    """Spend per day of the given ad sets over `start..end` (days without rows are absent)."""
    spend: dict[date, Decimal] = {}
    for entity_id in ad_set_ids:
        for row in snapshot.rows(entity_id, start, end):
            if row.level == "ad_set":
                spend[row.day] = spend.get(row.day, Decimal(0)) + row.spend
    return spend


def recent_utilisation(snapshot: Snapshot, holder: BudgetHolder, days: int = 3) -> float | None:
    """Mean spend over the last `days` complete days as a share of today's budget (None if unknown)."""
    end = snapshot.today - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    spend = daily_spend(snapshot, holder.ad_set_ids, start, end)
    if len(spend) < days or holder.daily_budget <= 0:
        return None
    return float(sum(spend.values(), Decimal(0)) / days / holder.daily_budget)


def changes_in_last_week(snapshot: Snapshot, entity_id: str) -> int:
    """How many times the entity was changed in the 7 days before today."""
    since = snapshot.today - timedelta(days=7)
    return sum(1 for day in snapshot.recent_changes.get(entity_id, ()) if since <= day < snapshot.today)


def changed_since(snapshot: Snapshot, entity_id: str, days: int) -> bool:
    """Was the entity changed in the last `days` days (its recent delivery reflects an old setting)?"""
    since = snapshot.today - timedelta(days=days)
    return any(since <= day <= snapshot.today for day in snapshot.recent_changes.get(entity_id, ()))


def budget_change(before: Decimal, after: Decimal, currency: str) -> dict[str, Any]:
    """The `change` of a set_budget proposal, amounts as the account currency's decimal strings."""
    return {"from": {"daily_budget": money_str(before, currency)}, "to": {"daily_budget": money_str(after, currency)}}
