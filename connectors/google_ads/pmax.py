"""Performance Max campaigns: their delivery read at campaign level, stored under one ad set each.

A Performance Max campaign has no ad groups (it serves asset groups), so the `ad_group` and
`ad_group_ad` reports never show its spend, and account totals and pacing, which sum ad sets,
missed it. Its metrics are read at campaign level, in one GAQL query per pull
(https://developers.google.com/google-ads/api/performance-max/reporting):

    SELECT campaign.id, segments.date, metrics.cost_micros, ... FROM campaign
    WHERE campaign.advertising_channel_type = 'PERFORMANCE_MAX' AND segments.date BETWEEN ...

(the channel filter keeps Search campaigns out: their delivery is already read by ad group).

Each Performance Max campaign becomes, besides its `campaign` entity (which holds its budget, as
every Google campaign does), one `ad_set` entity `pmax-<campaign id>` with the campaign's daily
rows. So spend, conversions and value count in the account's totals and in pacing, and the campaign
is a budget holder whose budget pacing and reallocation may move (CampaignBudgetService, as for
Search). The ad set itself is `read_only`: there is no ad group to pause or to move money to, so
the agent treats it as protected (`load_snapshot`) and a write on it is refused here, naming
the campaign to act on instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from connectors.google_ads.reports import PLATFORM, Target, micros_to_money, parse_date, value_to_money
from connectors.records import Entity, MetricRow

CHANNEL = "PERFORMANCE_MAX"
TARGET_LEVEL = "performance_max"
PREFIX = "pmax-"


def metrics_query(start: date, end: date) -> str:
    return ("SELECT campaign.id, segments.date, metrics.cost_micros, metrics.impressions, metrics.clicks, "
            "metrics.conversions, metrics.conversions_value FROM campaign "
            f"WHERE campaign.advertising_channel_type = '{CHANNEL}' "
            f"AND segments.date BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'")


def ad_set_id(campaign_id: str) -> str:
    return f"{PREFIX}{campaign_id}"


def ad_sets(campaigns: Iterable[Entity], customer_id: str) -> list[tuple[Entity, Target]]:
    """The stand-in ad set of each Performance Max campaign, with a target no write goes through."""
    found = []
    for campaign in campaigns:
        if campaign.level != "campaign" or campaign.attributes.get("channel") != CHANNEL:
            continue
        entity = Entity(
            PLATFORM, campaign.account_id, "ad_set", ad_set_id(campaign.entity_id), campaign.entity_id,
            f"{campaign.name} (Performance Max)", campaign.status, campaign.currency,
            attributes={"platform_level": "performance_max_campaign", "read_only": True,
                        "read_only_reason": "a Performance Max campaign has no ad groups: act on its campaign"})
        found.append((entity, Target(TARGET_LEVEL, f"customers/{customer_id}/campaigns/{campaign.entity_id}")))
    return found


def metric_row(row: Any, account_id: str, currency: str) -> MetricRow:
    metrics = row.metrics
    return MetricRow(
        platform=PLATFORM, account_id=account_id, level="ad_set", entity_id=ad_set_id(str(row.campaign.id)),
        day=parse_date(row.segments.date), currency=currency, spend=micros_to_money(metrics.cost_micros, currency),
        impressions=int(metrics.impressions), clicks=int(metrics.clicks), conversions=float(metrics.conversions),
        conversion_value=value_to_money(metrics.conversions_value, currency),
    )


def refusal(kind: str, entity_id: str) -> str:
    """Why a write on a Performance Max stand-in ad set is not sent."""
    campaign = entity_id.removeprefix(PREFIX)
    return (f"{kind} on {entity_id}: Performance Max campaign {campaign} has no ad group to change; "
            f"act on campaign {campaign} (its status or its budget)")
