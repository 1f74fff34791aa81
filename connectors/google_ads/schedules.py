"""Google Ads ad schedules: a campaign's `AD_SCHEDULE` criteria, read and replaced (`set_ad_schedule`).

An ad schedule is a campaign criterion (`CampaignCriterion.ad_schedule`, an `AdScheduleInfo`: day of week,
start hour and minute, end hour (24 = end of day) and minute, at most six per day) with a
`bid_modifier`; once a campaign has any, it serves only in scheduled hours
(https://developers.google.com/google-ads/api/reference/rpc/v26/AdScheduleInfo and CampaignCriterion;
operations by CampaignCriterionService, removed by resource name
`customers/{c}/campaignCriteria/{campaign_id}~{criterion_id}`). They are read with the account's other
campaign criteria (connectors/google_ads/campaign_criteria.py). A new schedule is written as one request:
every existing schedule criterion removed, every block of the new one created.

Blocks are hour-granular (`{day, start_hour, end_hour, bid_modifier}`): criteria on quarter hours are
read to the hour they start in and end by, so the agent sees them as a schedule that differs from its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from connectors.google_ads.reports import AccountState, Target
from connectors.records import Entity, Mutation

SERVICE = {"CampaignCriterionService": ("mutate_campaign_criteria", "CampaignCriterionOperation")}
DAYS = {"MONDAY": "mon", "TUESDAY": "tue", "WEDNESDAY": "wed", "THURSDAY": "thu", "FRIDAY": "fri",
        "SATURDAY": "sat", "SUNDAY": "sun"}
_ENUM_DAY = {short: long for long, short in DAYS.items()}
MAX_PER_DAY = 6


def read_schedules(customer_id: str, rows: Sequence[Any], state: AccountState) -> dict[str, list[dict[str, Any]]]:
    """Campaign id -> its schedule blocks, from the AD_SCHEDULE rows of `campaign_criteria.QUERY`; the
    criteria's resource names into `state` (for removal)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        campaign_id, schedule = str(row.campaign.id), row.campaign_criterion.ad_schedule
        end_hour = int(schedule.end_hour) + (1 if schedule.end_minute.name not in ("ZERO", "UNSPECIFIED") else 0)
        found[campaign_id].append({"day": DAYS.get(schedule.day_of_week.name, schedule.day_of_week.name.lower()),
                                   "start_hour": int(schedule.start_hour), "end_hour": min(end_hour, 24),
                                   "bid_modifier": round(float(row.campaign_criterion.bid_modifier or 1.0), 4)})
        state.schedule_criteria.setdefault(campaign_id, []).append(
            f"customers/{customer_id}/campaignCriteria/{campaign_id}~{row.campaign_criterion.criterion_id}")
    return found


def with_schedules(entities: Sequence[Entity], schedules: Mapping[str, list[dict[str, Any]]]) -> list[Entity]:
    """Campaigns with `attributes["ad_schedule"]` (an empty list when they have none)."""
    return [replace(e, attributes={**e.attributes, "ad_schedule": schedules.get(e.entity_id, [])})
            if e.level == "campaign" else e for e in entities]


def plan_schedule(client: Any, index: int, mutation: Mutation, target: Target, state: AccountState,
                  requests: dict[str, list[Any]], refs: dict[int, str], operation_of: Any) -> None:
    """Remove every schedule criterion of the campaign, create the new blocks; ValueError if invalid."""
    if target.level != "campaign":
        raise ValueError(f"ad schedules are campaign criteria, not set on a {target.level}")
    blocks = mutation.params.get("ad_schedule")
    if not isinstance(blocks, list):
        raise ValueError("params.ad_schedule must be a list of blocks")
    per_day: dict[str, int] = defaultdict(int)
    for block in blocks:
        per_day[str(block.get("day"))] += 1
        if block.get("day") not in _ENUM_DAY or not 0 <= int(block["start_hour"]) < int(block["end_hour"]) <= 24:
            raise ValueError(f"bad ad schedule block {block!r}")
        modifier = float(block.get("bid_modifier", 1.0))
        if not 0.1 <= modifier <= 10:
            raise ValueError(f"ad schedule bid modifiers are 0.1..10, got {modifier}")
    crowded = sorted(day for day, count in per_day.items() if count > MAX_PER_DAY)
    if crowded:
        raise ValueError(f"Google allows {MAX_PER_DAY} ad schedules a day; {', '.join(crowded)} would have more")
    service, operation_type = "CampaignCriterionService", SERVICE["CampaignCriterionService"][1]
    campaign_id = mutation.entity_id
    for resource_name in state.schedule_criteria.get(campaign_id, []):
        operation = client.get_type(operation_type)
        operation.remove = resource_name
        requests[service].append(operation_of(index, operation))
    for block in blocks:
        operation = client.get_type(operation_type)
        criterion = operation.create
        criterion.campaign = target.resource_name
        criterion.ad_schedule.day_of_week = getattr(client.enums.DayOfWeekEnum, _ENUM_DAY[block["day"]])
        criterion.ad_schedule.start_hour = int(block["start_hour"])
        criterion.ad_schedule.end_hour = int(block["end_hour"])
        criterion.ad_schedule.start_minute = client.enums.MinuteOfHourEnum.ZERO
        criterion.ad_schedule.end_minute = client.enums.MinuteOfHourEnum.ZERO
        criterion.bid_modifier = float(block.get("bid_modifier", 1.0))
        requests[service].append(operation_of(index, operation))
    refs[index] = target.resource_name
