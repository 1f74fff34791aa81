"""Performance Max campaigns in the fake Google Ads API, and campaign-level metric reports.

A Performance Max campaign (`advertising_channel_type = PERFORMANCE_MAX`) has its own campaign
budget and no ad groups: it never appears in `FROM ad_group` / `FROM ad_group_ad` reports
(https://developers.google.com/google-ads/api/performance-max/reporting). `FROM campaign` with
`segments.date` answers one row per campaign and day with delivery, for every channel, Search
campaigns included (their ad groups' sums), unless the WHERE clause filters on
`campaign.advertising_channel_type` (`=`, `!=`, `IN (...)`), which is honoured here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.records import MetricRow

CHANNEL = "PERFORMANCE_MAX"
_CHANNEL_FILTER = re.compile(r"campaign\.advertising_channel_type\s*(=|!=|IN|NOT IN)\s*(\([^)]*\)|'[^']*'|\"[^\"]*\")",
                             re.IGNORECASE)


@dataclass
class PmaxDay:
    spend: Decimal
    impressions: int
    clicks: int
    conversions: float
    conversion_value: Decimal


@dataclass
class PmaxCampaign:
    """One Performance Max campaign of a customer (numeric id) with its delivery per day."""

    campaign_id: int
    name: str
    daily_budget: Decimal
    status: str = "ENABLED"
    days: dict[date, PmaxDay] = field(default_factory=dict)


@dataclass
class PerformanceMax:
    """Performance Max campaigns by customer id (digits)."""

    campaigns: dict[str, list[PmaxCampaign]] = field(default_factory=lambda: defaultdict(list))

    def add(self, customer_id: str, campaign: PmaxCampaign) -> PmaxCampaign:
        self.campaigns[customer_id].append(campaign)
        return campaign

    def campaign_rows(self, customer_id: str, row_type: Any) -> list[Any]:
        """`FROM campaign` entity rows: the campaign with its own (unshared) budget."""
        rows = []
        for campaign in self.campaigns.get(customer_id, []):
            row = row_type()
            row.campaign.id = campaign.campaign_id
            row.campaign.resource_name = f"customers/{customer_id}/campaigns/{campaign.campaign_id}"
            row.campaign.name = campaign.name
            row.campaign.status = campaign.status
            row.campaign.advertising_channel_type = CHANNEL
            row.campaign.campaign_budget = budget_resource(customer_id, campaign)
            row.campaign_budget.resource_name = row.campaign.campaign_budget
            row.campaign_budget.amount_micros = int(campaign.daily_budget * 1_000_000)
            row.campaign_budget.name = f"Budget {campaign.name}"
            row.campaign_budget.explicitly_shared = False
            row.campaign_budget.reference_count = 1
            rows.append(row)
        return rows

    def set_budget(self, resource_name: str, amount: Decimal, validate_only: bool) -> bool:
        """Apply a CampaignBudgetService update if it names a Performance Max campaign's budget."""
        for customer_id, campaigns in self.campaigns.items():
            for campaign in campaigns:
                if budget_resource(customer_id, campaign) == resource_name:
                    if not validate_only:
                        campaign.daily_budget = amount
                    return True
        return False

    def metric_rows(self, customer_id: str, start: date, end: date, query: str, row_type: Any,
                    search_rows: Iterable[tuple[int, MetricRow]]) -> list[Any]:
        """`FROM campaign` with `segments.date`: Performance Max days and the Search campaigns' sums
        (`search_rows`: campaign id and ad group row), kept by the query's channel filter."""
        keep = channel_filter(query)
        rows: list[Any] = []
        if keep(CHANNEL):
            for campaign in self.campaigns.get(customer_id, []):
                for day, delivery in sorted(campaign.days.items()):
                    if start <= day <= end:
                        rows.append(_row(row_type, campaign.campaign_id, day, delivery))
        if keep("SEARCH"):
            sums: dict[tuple[int, date], PmaxDay] = {}
            for campaign_id, metric in search_rows:
                total = sums.setdefault((campaign_id, metric.day), PmaxDay(Decimal(0), 0, 0, 0.0, Decimal(0)))
                total.spend += metric.spend
                total.impressions += metric.impressions
                total.clicks += metric.clicks
                total.conversions += metric.conversions
                total.conversion_value += metric.conversion_value
            rows += [_row(row_type, campaign_id, day, total) for (campaign_id, day), total in sorted(sums.items())]
        return rows


def budget_resource(customer_id: str, campaign: PmaxCampaign) -> str:
    """The campaign's own budget (Performance Max campaigns cannot share one)."""
    return f"customers/{customer_id}/campaignBudgets/{campaign.campaign_id * 10 + 1}"


def channel_filter(query: str) -> Callable[[str], bool]:
    """Which channels the query's WHERE keeps (every channel when it does not filter on one)."""
    where = re.split(r"\bWHERE\b", query, maxsplit=1, flags=re.IGNORECASE)
    match = _CHANNEL_FILTER.search(where[1]) if len(where) > 1 else None
    if match is None:
        return lambda _channel: True
    operator = match.group(1).upper()
    values = set(re.findall(r"[A-Z_]+", match.group(2)))
    if operator in ("=", "IN"):
        return lambda channel: channel in values
    return lambda channel: channel not in values


def _row(row_type: Any, campaign_id: int, day: date, delivery: PmaxDay) -> Any:
    row = row_type()
    row.campaign.id = campaign_id
    row.segments.date = day.isoformat()
    row.metrics.cost_micros = int(delivery.spend * 1_000_000)
    row.metrics.impressions = delivery.impressions
    row.metrics.clicks = delivery.clicks
    row.metrics.conversions = delivery.conversions
    row.metrics.conversions_value = float(delivery.conversion_value)
    return row
