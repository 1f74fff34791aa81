"""Breakdown dimensions and segments in our own names, the same on every platform.

Each platform names segments its own way (`AGE_RANGE_18_24`, `"18-24"`, `urn:li:seniority:5`);
past the connector the code sees one dimension name and one segment name: `age` / `18-24`,
`device` / `mobile`, `placement` / `instagram_stories`, `company_size` / `11-50`. What a platform
reports that we cannot name, or leaves out (privacy thresholds, off-Meta conversions under a
`region` breakdown), is the segment `unknown`, so the segments of one ad set, day and dimension
always sum to the ad set's own row (`complete_with_unknown`).

Pure: no I/O, imports only `connectors.records`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal

from connectors.records import MetricRow, SegmentRow

UNKNOWN = "unknown"
DELIVERY_DIMENSIONS: tuple[str, ...] = ("device", "age", "gender", "region", "placement",
                                        "company_size", "industry", "seniority", "job_function")
# Dimensions that split conversions only (the platform reports no spend or clicks per segment): Google's
# new vs returning customers. Their spend stays in `unknown`, whole.
CONVERSION_DIMENSIONS: tuple[str, ...] = ("customer_type",)
DIMENSIONS: tuple[str, ...] = DELIVERY_DIMENSIONS + CONVERSION_DIMENSIONS
CUSTOMER_TYPES: tuple[str, ...] = ("new", "returning", UNKNOWN)
AGES: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
COMPANY_SIZES: tuple[str, ...] = ("1", "2-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000",
                                  "5001-10000", "10001+")

# -- Google Ads enums (DeviceEnum, AgeRangeTypeEnum, GenderTypeEnum) -----------------------------
_GOOGLE_DEVICE = {"MOBILE": "mobile", "DESKTOP": "desktop", "TABLET": "tablet", "CONNECTED_TV": "tv",
                  "OTHER": "other"}
_GOOGLE_AGE = {"AGE_RANGE_18_24": "18-24", "AGE_RANGE_25_34": "25-34", "AGE_RANGE_35_44": "35-44",
               "AGE_RANGE_45_54": "45-54", "AGE_RANGE_55_64": "55-64", "AGE_RANGE_65_UP": "65+"}
_GOOGLE_GENDER = {"MALE": "male", "FEMALE": "female"}
# ConvertingUserPriorEngagementTypeAndLtvBucketEnum (segments.new_versus_returning_customers)
_GOOGLE_CUSTOMER_TYPE = {"NEW": "new", "NEW_AND_HIGH_LTV": "new", "RETURNING": "returning"}

# -- Meta insights breakdown values --------------------------------------------------------------
_META_DEVICE = {"mobile_app": "mobile", "mobile_web": "mobile", "desktop": "desktop"}
# platform_position values that already name their platform, or an abbreviation of it
_META_POSITION_ALIAS = {"an_classic": "audience_network_classic", "rewarded_video": "audience_network_rewarded_video"}

# -- LinkedIn standardized data (seniorities, job functions) and pivot enums ---------------------
_LINKEDIN_COMPANY_SIZE = {"SIZE_1": "1", "SIZE_2_TO_10": "2-10", "SIZE_11_TO_50": "11-50",
                          "SIZE_51_TO_200": "51-200", "SIZE_201_TO_500": "201-500", "SIZE_501_TO_1000": "501-1000",
                          "SIZE_1001_TO_5000": "1001-5000", "SIZE_5001_TO_10000": "5001-10000",
                          "SIZE_10001_OR_MORE": "10001+"}
SENIORITIES: dict[int, str] = {1: "unpaid", 2: "training", 3: "entry", 4: "senior", 5: "manager", 6: "director",
                               7: "vp", 8: "cxo", 9: "partner", 10: "owner"}
JOB_FUNCTIONS: dict[int, str] = {
    1: "accounting", 2: "administrative", 3: "arts-and-design", 4: "business-development",
    5: "community-and-social-services", 6: "consulting", 7: "education", 8: "engineering", 9: "entrepreneurship",
    10: "finance", 11: "healthcare-services", 12: "human-resources", 13: "information-technology", 14: "legal",
    15: "marketing", 16: "media-and-communication", 17: "military-and-protective-services", 18: "operations",
    19: "product-management", 20: "program-and-project-management", 21: "purchasing", 22: "quality-assurance",
    23: "real-estate", 24: "research", 25: "sales", 26: "support",
}
# Industries are hundreds of ids: the few we name, the rest keep their id ("industry-1234").
INDUSTRIES: dict[int, str] = {4: "software-development", 6: "technology-information-and-internet",
                              43: "financial-services", 96: "it-services-and-it-consulting"}


def slug(text: str) -> str:
    """Lower case, words joined by `-`: "North Rhine-Westphalia" -> "north-rhine-westphalia"."""
    return re.sub(r"[^a-z0-9+]+", "-", text.strip().lower()).strip("-") or UNKNOWN


def _enum_name(value: object) -> str:
    return str(getattr(value, "name", value))


def google_device(value: object) -> str:
    return _GOOGLE_DEVICE.get(_enum_name(value), UNKNOWN)


def google_age(value: object) -> str:
    return _GOOGLE_AGE.get(_enum_name(value), UNKNOWN)


def google_gender(value: object) -> str:
    return _GOOGLE_GENDER.get(_enum_name(value), UNKNOWN)


def google_customer_type(value: object) -> str:
    return _GOOGLE_CUSTOMER_TYPE.get(_enum_name(value), UNKNOWN)


def meta_age(value: str | None) -> str:
    return value if value in AGES else UNKNOWN


def meta_gender(value: str | None) -> str:
    return value if value in ("male", "female") else UNKNOWN


def meta_device(value: str | None) -> str:
    return _META_DEVICE.get(value or "", UNKNOWN)


def meta_placement(publisher_platform: str | None, platform_position: str | None) -> str:
    """`facebook` + `feed` -> `facebook_feed`; `instagram` + `instagram_stories` -> `instagram_stories`."""
    if not publisher_platform or not platform_position:
        return UNKNOWN
    position = _META_POSITION_ALIAS.get(platform_position, platform_position)
    return position if position.startswith(f"{publisher_platform}_") else f"{publisher_platform}_{position}"


def region(name: str | None) -> str:
    return slug(name) if name and name.strip().lower() not in ("unknown", "") else UNKNOWN


def _urn_id(value: str) -> int | None:
    match = re.fullmatch(r"urn:li:\w+:(\d+)", value or "")
    return int(match.group(1)) if match else None


def linkedin_segment(dimension: str, value: str) -> str:
    """A LinkedIn demographic pivot value in our name for `dimension`."""
    if dimension == "company_size":
        return _LINKEDIN_COMPANY_SIZE.get(value, UNKNOWN)
    number = _urn_id(value)
    if number is None:
        return UNKNOWN
    if dimension == "seniority":
        return SENIORITIES.get(number, UNKNOWN)
    if dimension == "job_function":
        return JOB_FUNCTIONS.get(number, UNKNOWN)
    return INDUSTRIES.get(number, f"industry-{number}")


def merged(rows: Iterable[SegmentRow]) -> list[SegmentRow]:
    """Rows that name the same (entity, day, dimension, segment) summed into one: two platform values
    can be one segment of ours (Meta's `mobile_app` and `mobile_web` are both `mobile`)."""
    found: dict[tuple[str, date, str, str], SegmentRow] = {}
    for row in rows:
        key = (row.entity_id, row.day, row.dimension, row.segment)
        seen = found.get(key)
        found[key] = row if seen is None else _add(seen, row)
    return list(found.values())


def _add(first: SegmentRow, second: SegmentRow) -> SegmentRow:
    return replace(first, spend=first.spend + second.spend, impressions=first.impressions + second.impressions,
                   clicks=first.clicks + second.clicks, conversions=first.conversions + second.conversions,
                   conversion_value=first.conversion_value + second.conversion_value)


def complete_with_unknown(rows: Sequence[SegmentRow], totals: Iterable[MetricRow],
                          dimensions: Iterable[str]) -> list[SegmentRow]:
    """`rows` merged, plus per ad set, day and dimension the part of the ad set's own row the segments do
    not account for, in the segment `unknown` (clipped at zero: a breakdown never takes away delivery)."""
    result = {(r.entity_id, r.day, r.dimension, r.segment): r for r in merged(rows)}
    summed: dict[tuple[str, date, str], list[SegmentRow]] = defaultdict(list)
    for row in result.values():
        summed[(row.entity_id, row.day, row.dimension)].append(row)
    for dimension in dimensions:
        for total in totals:
            if total.level != "ad_set":
                continue
            missing = _remainder(total, summed.get((total.entity_id, total.day, dimension), []), dimension)
            if missing is None:
                continue
            key = (total.entity_id, total.day, dimension, UNKNOWN)
            known = result.get(key)
            result[key] = missing if known is None else _add(known, missing)
    return list(result.values())


def _remainder(total: MetricRow, parts: Sequence[SegmentRow], dimension: str) -> SegmentRow | None:
    spend = max(total.spend - sum((p.spend for p in parts), Decimal(0)), Decimal(0))
    value = max(total.conversion_value - sum((p.conversion_value for p in parts), Decimal(0)), Decimal(0))
    impressions = max(total.impressions - sum(p.impressions for p in parts), 0)
    clicks = max(total.clicks - sum(p.clicks for p in parts), 0)
    conversions = max(total.conversions - sum(p.conversions for p in parts), 0.0)
    if conversions < 1e-9:
        conversions = 0.0
    if not (spend or value or impressions or clicks or conversions):
        return None
    return SegmentRow(total.platform, total.account_id, total.entity_id, total.day, dimension, UNKNOWN,
                      total.currency, spend, impressions, clicks, conversions, value)


def breakdown_totals(rows: Iterable[SegmentRow]) -> Mapping[tuple[str, date, str], tuple[Decimal, float]]:
    """(entity, day, dimension) -> (spend, conversions) summed over segments: what tests compare with totals."""
    sums: dict[tuple[str, date, str], tuple[Decimal, float]] = {}
    for row in rows:
        spend, conversions = sums.get((row.entity_id, row.day, row.dimension), (Decimal(0), 0.0))
        sums[(row.entity_id, row.day, row.dimension)] = (spend + row.spend, conversions + row.conversions)
    return sums


# One report per account and breakdown (request economy), and the dimensions each report yields. Meta
# combines age and gender in one report (`breakdowns=age,gender`) and needs `platform_position` paired
# with `publisher_platform`; LinkedIn's demographic pivots go one at a time.
BREAKDOWN_REPORTS: dict[str, dict[str, tuple[str, ...]]] = {
    "google_ads": {"device": ("device",), "age": ("age",), "gender": ("gender",), "region": ("region",)},
    "meta": {"age_gender": ("age", "gender"), "region": ("region",), "placement": ("placement",),
             "device": ("device",)},
    "linkedin": {"company_size": ("company_size",), "industry": ("industry",), "seniority": ("seniority",),
                 "job_function": ("job_function",)},
}
# Reports a connector reads only where the account has what they need (Google's customer_type: a customer
# lifecycle goal); one that answers no rows stores nothing.
OPTIONAL_BREAKDOWN_REPORTS: dict[str, dict[str, tuple[str, ...]]] = {"google_ads": {"customer_type": ("customer_type",)}}
