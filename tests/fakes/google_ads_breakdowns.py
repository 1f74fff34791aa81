"""Breakdown reports of the fake Google Ads API, from the simulator's segments.

Answers, as the API does, with one row per ad group, day and segment value:
- `FROM ad_group` selecting `segments.device` (DeviceEnum: MOBILE, DESKTOP, TABLET, ...);
- `FROM age_range_view` with `ad_group_criterion.age_range.type` (AgeRangeTypeEnum AGE_RANGE_18_24 ...);
- `FROM gender_view` with `ad_group_criterion.gender.type` (GenderTypeEnum MALE, FEMALE, UNDETERMINED);
- `FROM geographic_view` with `segments.geo_target_region` (`geoTargetConstants/{id}`), and the names
  of those constants `FROM geo_target_constant WHERE geo_target_constant.resource_name IN (...)`.
- `FROM ad_group` selecting `segments.new_versus_returning_customers`
  (ConvertingUserPriorEngagementTypeAndLtvBucketEnum NEW, RETURNING, UNKNOWN) with conversion metrics only,
  for customers that have a customer lifecycle goal (`goal_rows`: `FROM goal`, GoalTypeEnum);
(https://developers.google.com/google-ads/api/reference/rpc/v26/DeviceEnum.Device,
https://developers.google.com/google-ads/api/reference/rpc/v26/AgeRangeTypeEnum.AgeRangeType,
https://developers.google.com/google-ads/api/reference/rpc/v26/GenderTypeEnum.GenderType.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from connectors.records import Entity, MetricRow
from connectors.simulator.segments import Exclusions, split_row
from tests.fakes.platform_fixtures import IdMap

_DEVICE = {"mobile": "MOBILE", "desktop": "DESKTOP", "tablet": "TABLET"}
_AGE = {"18-24": "AGE_RANGE_18_24", "25-34": "AGE_RANGE_25_34", "35-44": "AGE_RANGE_35_44",
        "45-54": "AGE_RANGE_45_54", "55-64": "AGE_RANGE_55_64", "65+": "AGE_RANGE_65_UP"}
_GENDER = {"male": "MALE", "female": "FEMALE", "unknown": "UNDETERMINED"}
_CUSTOMER_TYPE = {"new": "NEW", "returning": "RETURNING", "unknown": "UNKNOWN"}
_BY_RESOURCE = {"age_range_view": "age", "gender_view": "gender", "geographic_view": "region"}


def dimension_of(resource: str, query: str) -> str | None:
    """The breakdown a query asks for, or None when it is not a breakdown query."""
    if resource == "ad_group" and "segments.new_versus_returning_customers" in query:
        return "customer_type"
    if resource == "ad_group" and "segments.device" in query:
        return "device"
    return _BY_RESOURCE.get(resource)


def geo_name(region_slug: str) -> str:
    """How Google names a region ("north-rhine-westphalia" -> "North Rhine Westphalia")."""
    return " ".join(word.capitalize() for word in region_slug.split("-"))


def breakdown_rows(dimension: str, metrics: list[MetricRow], entities: dict[str, Entity], seed: int, ids: IdMap,
                   new_row: Callable[[], Any], excluded: Exclusions | None = None) -> list[Any]:
    rows = []
    for metric in metrics:
        if metric.level != "ad_set":
            continue
        for piece in split_row(seed, metric, (dimension,), excluded):
            segment = piece.segments[0]
            row = new_row()
            row.segments.date = metric.day.isoformat()
            row.ad_group.id = ids.numeric(metric.entity_id)
            row.campaign.id = ids.numeric(str(entities[metric.entity_id].parent_id))
            if dimension == "device":
                row.segments.device = _DEVICE[segment]
            elif dimension == "age":
                row.ad_group_criterion.age_range.type_ = _AGE[segment]
            elif dimension == "gender":
                row.ad_group_criterion.gender.type_ = _GENDER[segment]
            elif dimension == "customer_type":  # conversions only: no cost, impressions or clicks per type
                row.segments.new_versus_returning_customers = _CUSTOMER_TYPE[segment]
                row.metrics.conversions = piece.conversions
                row.metrics.conversions_value = float(piece.conversion_value)
                rows.append(row)
                continue
            else:
                row.segments.geo_target_region = f"geoTargetConstants/{ids.numeric(f'geo:{segment}')}"
            row.metrics.cost_micros = int(piece.spend * 1_000_000)
            row.metrics.impressions = piece.impressions
            row.metrics.clicks = piece.clicks
            row.metrics.conversions = piece.conversions
            row.metrics.conversions_value = float(piece.conversion_value)
            rows.append(row)
    return rows


def geo_constant_rows(query: str, ids: IdMap, new_row: Callable[[], Any]) -> list[Any]:
    rows = []
    for number in re.findall(r"geoTargetConstants/(\d+)", query):
        sim = ids.sim(number)
        if sim is None or not sim.startswith("geo:"):
            continue
        row = new_row()
        row.geo_target_constant.resource_name = f"geoTargetConstants/{number}"
        row.geo_target_constant.name = geo_name(sim.removeprefix("geo:"))
        rows.append(row)
    return rows



def goal_rows(goal_types: tuple[str, ...], ids: IdMap, customer: str, new_row: Callable[[], Any]) -> list[Any]:
    """The customer's lifecycle goals (GoalTypeEnum NEW_CUSTOMER_ACQUISITION, CUSTOMER_RETENTION, ...)."""
    rows = []
    for goal_type in goal_types:
        row = new_row()
        row.goal.goal_id = ids.numeric(f"goal:{customer}:{goal_type}")
        row.goal.goal_type = goal_type
        rows.append(row)
    return rows
