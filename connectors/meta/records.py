"""Graph API objects -> normalized records.

Meta reports insights `spend` as a decimal string in the account currency, but budgets
(`daily_budget`) in the currency's minor units (cents; whole yen for JPY). Insights days
(`date_start`) are already the ad account's own days (its `timezone_name`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from connectors.meta import leads
from connectors.meta.age_range import advantage_audience, excluded_ages
from connectors.meta.conversions import Conversions
from connectors.meta.labels import labels_of
from connectors.meta.placements import excluded_placements
from connectors.meta.regions import excluded_regions
from connectors.meta.schedules import blocks_of
from connectors.records import Audience, Entity, MetricRow, Status, minor_unit_exponent

log = logging.getLogger(__name__)
R = TypeVar("R")
PLATFORM = "meta"
INSIGHT_FIELDS = ["campaign_id", "adset_id", "ad_id", "date_start", "date_stop", "spend", "impressions", "clicks",
                  "reach", "actions", "action_values", "objective"]
CAMPAIGN_FIELDS = ["id", "name", "status", "objective", "daily_budget", "lifetime_budget", "adlabels",
                   "special_ad_categories"]
AD_SET_FIELDS = ["id", "name", "campaign_id", "status", "daily_budget", "targeting", "learning_stage_info", "adlabels",
                 "lifetime_budget", "adset_schedule"]
AD_FIELDS = ["id", "name", "adset_id", "status", "creative{id,title,body,call_to_action_type}"]
AUDIENCE_FIELDS = ["id", "name", "approximate_count_lower_bound", "approximate_count_upper_bound"]
_STATUS: dict[str, Status] = {"ACTIVE": "ACTIVE", "PAUSED": "PAUSED", "DELETED": "REMOVED", "ARCHIVED": "REMOVED"}


def minor_to_money(minor_units: Any, currency: str) -> Decimal:
    """Minor units (e.g. "5000" cents) as a Decimal in currency units ("50.00"); JPY has none."""
    return Decimal(int(str(minor_units))).scaleb(-minor_unit_exponent(currency))


def money_to_minor(amount: Decimal, currency: str) -> int:
    """A Decimal amount as minor units; refuses amounts finer than the currency allows."""
    scaled = amount.scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than {currency} allows")
    return int(scaled)


def _status(raw: Any) -> Status:
    if raw not in _STATUS:
        raise ValueError(f"unexpected status {raw!r}")
    return _STATUS[raw]


def metric_row(raw: Mapping[str, Any], account_id: str, currency: str, level: str,
               conversions: Conversions) -> MetricRow:
    entity_id = raw["adset_id"] if level == "ad_set" else raw["ad_id"]
    if not entity_id:
        raise ValueError("row without an id")
    reach = raw.get("reach")
    conversions = leads.counted_in(raw, conversions)
    return MetricRow(
        platform=PLATFORM, account_id=account_id, level="ad_set" if level == "ad_set" else "ad",
        entity_id=str(entity_id), day=date.fromisoformat(raw["date_start"]), currency=currency,
        spend=Decimal(str(raw.get("spend") or "0")), impressions=int(raw.get("impressions") or 0),
        clicks=int(raw.get("clicks") or 0), conversions=float(conversions.count(raw.get("actions"))),
        conversion_value=conversions.count(raw.get("action_values")),
        reach=int(reach) if reach not in (None, "") else None,
    )


def parse_each(rows: Iterable[Any], parse: Callable[[Any], R], account_id: str, report: str) -> Iterator[R]:
    """Parse each row; one that cannot be parsed is logged (account, report, row id) and skipped."""
    for row in rows:
        try:
            yield parse(row)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as error:
            data = row if isinstance(row, Mapping) else {}
            identity = data.get("ad_id") or data.get("adset_id") or data.get("id") or "?"
            log.warning("meta account %s: skipped malformed %s row %s@%s: %s", account_id, report, identity,
                        data.get("date_start", ""), error)


def _audience_ids(targeting: Mapping[str, Any] | None, key: str) -> list[str]:
    return [str(a["id"]) for a in (targeting or {}).get(key, []) if isinstance(a, Mapping) and "id" in a]


def has_campaign_budget(raw: Mapping[str, Any]) -> bool:
    """An Advantage campaign budget: the campaign holds a daily or lifetime budget, its ad sets none
    (https://developers.facebook.com/documentation/ads-commerce/marketing-api/bidding/guides/advantage-campaign-budget)."""
    return any(raw.get(key) not in (None, "", "0") for key in ("daily_budget", "lifetime_budget"))


def campaign_entity(raw: Mapping[str, Any], account_id: str, currency: str) -> Entity:
    budget = raw.get("daily_budget")
    return Entity(
        platform=PLATFORM, account_id=account_id, level="campaign", entity_id=str(raw["id"]), parent_id=None,
        name=str(raw.get("name", "")), status=_status(raw.get("status")), currency=currency,
        daily_budget=minor_to_money(budget, currency) if budget not in (None, "", "0") else None,
        attributes={"platform_level": "campaign", "objective": raw.get("objective", ""),
                    "advantage_campaign_budget": has_campaign_budget(raw), "labels": sorted(labels_of(raw))},
    )


def _reach_targeting(targeting: Mapping[str, Any]) -> dict[str, Any]:
    """Who an ad set can reach, as far as two ad sets' overlap goes: its countries, age range and
    gender (`genders`: 1 men, 2 women, absent or both: everyone; a person has one)."""
    countries = sorted({str(c) for c in (targeting.get("geo_locations") or {}).get("countries") or ()})
    found: dict[str, Any] = {"countries": countries} if countries else {}
    if targeting.get("age_min") is not None and targeting.get("age_max") is not None:
        found["age_min"], found["age_max"] = int(targeting["age_min"]), int(targeting["age_max"])
    genders = sorted({str(g) for g in targeting.get("genders") or ()})
    if genders and set(genders) != {"1", "2"}:
        found["one_value_targeting"] = {"genders": genders}
    return found


def special_categories(campaign: Mapping[str, Any]) -> list[str]:
    """The campaign's special ad categories (none: `[]` or `["NONE"]`)."""
    return sorted(str(c) for c in campaign.get("special_ad_categories") or () if str(c) != "NONE")


def ad_set_entity(raw: Mapping[str, Any], account_id: str, currency: str,
                  budget_campaigns: Collection[str] = (),
                  special: Mapping[str, Sequence[str]] | None = None) -> Entity:
    """An ad set; `special`: campaign id -> its special ad categories (narrowing age is forbidden there)."""
    budget = raw.get("daily_budget")
    targeting = raw.get("targeting") or {}
    learning = (raw.get("learning_stage_info") or {}).get("status") == "LEARNING"
    return Entity(
        platform=PLATFORM, account_id=account_id, level="ad_set", entity_id=str(raw["id"]),
        parent_id=str(raw["campaign_id"]), name=str(raw.get("name", "")), status=_status(raw.get("status")),
        currency=currency, daily_budget=minor_to_money(budget, currency) if budget not in (None, "", "0") else None,
        learning=learning,
        attributes={"platform_level": "ad_set", "audience_ids": _audience_ids(targeting, "custom_audiences"),
                    "excluded_audience_ids": _audience_ids(targeting, "excluded_custom_audiences"),
                    "campaign_budget": str(raw["campaign_id"]) in budget_campaigns, "labels": sorted(labels_of(raw)),
                    "ad_schedule": blocks_of(raw),
                    "lifetime_budget": str(raw["lifetime_budget"]) if raw.get("lifetime_budget") else None,
                    "excluded_segments": {"placement": excluded_placements(targeting), "age": excluded_ages(targeting),
                                          "region": excluded_regions(targeting)},
                    "advantage_audience": advantage_audience(targeting),
                    "special_ad_categories": list((special or {}).get(str(raw["campaign_id"]), ())),
                    **_reach_targeting(targeting)},
    )


def ad_entity(raw: Mapping[str, Any], account_id: str, currency: str) -> Entity:
    creative = raw.get("creative") or {}
    return Entity(
        platform=PLATFORM, account_id=account_id, level="ad", entity_id=str(raw["id"]),
        parent_id=str(raw["adset_id"]), name=str(raw.get("name", "")), status=_status(raw.get("status")),
        currency=currency,
        attributes={"platform_level": "ad", "headline": creative.get("title", ""),
                    "description": creative.get("body", ""), "primary_text": creative.get("body", ""),
                    "call_to_action": creative.get("call_to_action_type")},
    )


def audience(raw: Mapping[str, Any], account_id: str) -> Audience:
    low = int(raw.get("approximate_count_lower_bound") or 0)
    high = int(raw.get("approximate_count_upper_bound") or low)
    return Audience(account_id=account_id, audience_id=str(raw["id"]), name=str(raw.get("name", "")),
                    estimated_size=(low + high) // 2)
