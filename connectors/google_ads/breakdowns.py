"""Google Ads breakdown reports: one GAQL query per account and breakdown, ad-group level, daily.

- device: `segments.device` on `ad_group`;
- age: `age_range_view`, the age range criterion's `ad_group_criterion.age_range.type`;
- gender: `gender_view`, `ad_group_criterion.gender.type`;
- region: `geographic_view` segmented by `segments.geo_target_region` (a `geoTargetConstants/{id}`
  resource name), named through one `geo_target_constant` lookup of the ids not seen before.
(https://developers.google.com/google-ads/api/fields/v26/age_range_view, .../gender_view,
.../geographic_view: `ad_group` and `campaign` are segmenting resources of these views.)
- customer_type: `segments.new_versus_returning_customers` on `ad_group`, only where the account has a
  customer lifecycle goal (a `goal` of type NEW_CUSTOMER_ACQUISITION, CUSTOMER_RETENTION or
  LOYALTY_RETENTION). The segment splits conversions ("for segmenting conversions by whether the user
  is a new customer or a returning customer", the Segments field reference of v26), so the query
  selects conversion metrics only, as for conversion-action segments; values follow
  ConvertingUserPriorEngagementTypeAndLtvBucketEnum (NEW, RETURNING, NEW_AND_HIGH_LTV, UNKNOWN).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from connectors.google_ads.reports import PLATFORM, micros_to_money, parse_date, value_to_money
from connectors.records import SegmentRow
from connectors.segments import (
    UNKNOWN,
    google_age,
    google_customer_type,
    google_device,
    google_gender,
    region,
)

_METRICS = ("metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, "
            "metrics.conversions_value")
# report -> (segment field, FROM resource)
_REPORTS: dict[str, tuple[str, str]] = {
    "device": ("segments.device", "ad_group"),
    "age": ("ad_group_criterion.age_range.type", "age_range_view"),
    "gender": ("ad_group_criterion.gender.type", "gender_view"),
    "region": ("segments.geo_target_region", "geographic_view"),
    "customer_type": ("segments.new_versus_returning_customers", "ad_group"),
}
_CONVERSION_METRICS = "metrics.conversions, metrics.conversions_value"
LIFECYCLE_GOAL_TYPES = ("NEW_CUSTOMER_ACQUISITION", "CUSTOMER_RETENTION", "LOYALTY_RETENTION")
LIFECYCLE_GOALS_QUERY = "SELECT goal.goal_id, goal.goal_type FROM goal"  # a few rows; their types checked here


def is_lifecycle_goal(row: Any) -> bool:
    return str(getattr(row.goal.goal_type, "name", row.goal.goal_type)) in LIFECYCLE_GOAL_TYPES


def breakdown_query(report: str, start: date, end: date) -> str:
    segment_field, resource = _REPORTS[report]
    metrics = _CONVERSION_METRICS if report == "customer_type" else _METRICS
    return (f"SELECT campaign.id, ad_group.id, segments.date, {segment_field}, {metrics} FROM {resource} "
            f"WHERE segments.date BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'")


def resource_of(report: str) -> str:
    return _REPORTS[report][1]


def geo_names_query(resource_names: Iterable[str]) -> str:
    quoted = ", ".join(f"'{name}'" for name in sorted(resource_names))
    return (f"SELECT geo_target_constant.resource_name, geo_target_constant.name FROM geo_target_constant "
            f"WHERE geo_target_constant.resource_name IN ({quoted})")


def raw_region(row: Any) -> str:
    return str(row.segments.geo_target_region or "")


def segment_of(report: str, row: Any, geo_names: dict[str, str]) -> str:
    """`row`: a raw report row (GoogleAdsConnector._report), whose enums are numbers."""
    if report == "device":
        return google_device(enum_name(row.segments, "device"))
    if report == "age":
        return google_age(enum_name(row.ad_group_criterion.age_range, "type_"))
    if report == "gender":
        return google_gender(enum_name(row.ad_group_criterion.gender, "type_"))
    if report == "customer_type":
        return google_customer_type(enum_name(row.segments, "new_versus_returning_customers"))
    return region(geo_names.get(raw_region(row))) if raw_region(row) else UNKNOWN


def enum_name(message: Any, field: str) -> str:
    """The name of an enum field's value on a raw protobuf message ("" for a number the SDK's version
    does not know): what proto-plus would give as the enum member's name."""
    value = message.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number.get(getattr(message, field))
    return value.name if value is not None else ""


def segment_row(report: str, row: Any, account_id: str, currency: str,
                geo_names: dict[str, str]) -> SegmentRow:
    metrics = row.metrics
    return SegmentRow(
        platform=PLATFORM, account_id=account_id, entity_id=str(row.ad_group.id), day=parse_date(row.segments.date),
        dimension=report, segment=segment_of(report, row, geo_names), currency=currency,
        spend=micros_to_money(metrics.cost_micros, currency), impressions=int(metrics.impressions),
        clicks=int(metrics.clicks), conversions=float(metrics.conversions),
        conversion_value=value_to_money(metrics.conversions_value, currency))


def row_id(row: Any) -> str:
    return f"{row.ad_group.id}@{row.segments.date}"

