"""GAQL queries and the translation of their rows into normalized records.

Google reports money in micros of the account currency and days in the account's time zone
(`segments.date`), so a row converts without any clock. `conversions_value` is already in
currency units (a double); it is read through `str` so no binary float noise enters a Decimal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from connectors.records import AD_ROTATIONS, Entity, MetricRow, SearchTermRow, Status, quantize_money

log = logging.getLogger(__name__)
R = TypeVar("R")
PLATFORM = "google_ads"
MICROS = 6

CUSTOMER = ("SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone "
            "FROM customer")
CAMPAIGNS = ("SELECT campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type, "
             "campaign.campaign_budget, campaign_budget.amount_micros, campaign_budget.explicitly_shared, "
             "campaign_budget.reference_count, campaign_budget.name FROM campaign WHERE campaign.status != 'REMOVED'")
AD_GROUPS = ("SELECT campaign.id, ad_group.id, ad_group.name, ad_group.status, ad_group.ad_rotation_mode "
             "FROM ad_group WHERE ad_group.status != 'REMOVED'")
ADS = ("SELECT ad_group.id, ad_group_ad.ad.id, ad_group_ad.ad.name, ad_group_ad.status, ad_group_ad.ad.type, "
       "ad_group_ad.ad.final_urls, ad_group_ad.ad.responsive_search_ad.headlines, "
       "ad_group_ad.ad.responsive_search_ad.descriptions FROM ad_group_ad WHERE ad_group_ad.status != 'REMOVED'")
KEYWORDS = ("SELECT ad_group.id, ad_group_criterion.criterion_id, ad_group_criterion.status, "
            "ad_group_criterion.keyword.text, ad_group_criterion.keyword.match_type FROM ad_group_criterion "
            "WHERE ad_group_criterion.type = 'KEYWORD' AND ad_group_criterion.negative = FALSE "
            "AND ad_group_criterion.status != 'REMOVED'")
AD_TAGS = ("SELECT ad_group_ad.ad.id, ad_group_ad.ad.url_custom_parameters FROM ad_group_ad "
           "WHERE ad_group_ad.status != 'REMOVED'")
SHARED_SETS = ("SELECT shared_set.id, shared_set.name FROM shared_set "
               "WHERE shared_set.type = 'NEGATIVE_KEYWORDS' AND shared_set.status = 'ENABLED'")
CAMPAIGN_SHARED_SETS = ("SELECT campaign.id, shared_set.id FROM campaign_shared_set "
                        "WHERE shared_set.type = 'NEGATIVE_KEYWORDS' AND campaign_shared_set.status = 'ENABLED'")
SHARED_CRITERIA = ("SELECT shared_set.id, shared_criterion.keyword.text, shared_criterion.keyword.match_type "
                   "FROM shared_criterion WHERE shared_set.type = 'NEGATIVE_KEYWORDS'")
_METRICS = ("metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, "
            "metrics.conversions_value")


def ad_group_metrics(start: date, end: date) -> str:
    return (f"SELECT campaign.id, ad_group.id, segments.date, {_METRICS} FROM ad_group "
            f"WHERE segments.date BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'")


def ad_metrics(start: date, end: date) -> str:
    return (f"SELECT ad_group.id, ad_group_ad.ad.id, segments.date, {_METRICS} FROM ad_group_ad "
            f"WHERE segments.date BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'")


def search_term_report(start: date, end: date) -> str:
    return (f"SELECT campaign.id, ad_group.id, segments.date, search_term_view.search_term, {_METRICS} "
            f"FROM search_term_view WHERE segments.date BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'")


_STATUS: dict[str, Status] = {"ENABLED": "ACTIVE", "PAUSED": "PAUSED", "REMOVED": "REMOVED"}


def status_of(enum_value: Any) -> Status:
    name = getattr(enum_value, "name", str(enum_value))
    if name not in _STATUS:
        raise ValueError(f"unexpected status {name!r}")
    return _STATUS[name]


def micros_to_money(micros: int, currency: str) -> Decimal:
    """Micros of `currency` as a Decimal in currency units (exact; e.g. 1_230_000 -> 1.23)."""
    return Decimal(int(micros)).scaleb(-MICROS)


def money_to_micros(amount: Decimal, currency: str) -> int:
    """An amount in currency units as micros; refuses amounts finer than the currency allows
    (a budget of 10.005 USD or 100.5 JPY)."""
    if quantize_money(amount, currency) != amount:
        raise ValueError(f"{amount} {currency} has more decimals than {currency} allows")
    return int(amount.scaleb(MICROS))


def value_to_money(value: float, currency: str) -> Decimal:
    """`conversions_value` (a double in currency units) as a Decimal, to the micro."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-MICROS))


def parse_date(text: str) -> date:
    return date.fromisoformat(text)


def parse_rows(rows: Iterable[Any], parse: Callable[[Any], R], account_id: str, report: str,
               row_id: Callable[[Any], str]) -> Iterator[R]:
    """Parse each row; a row that cannot be parsed is logged (account, report, row id) and skipped."""
    for row in rows:
        try:
            yield parse(row)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as error:
            try:
                identity = row_id(row)
            except Exception:
                identity = "?"
            log.warning("google_ads account %s: skipped malformed %s row %s: %s", account_id, report, identity, error)


@dataclass
class Target:
    """What the connector needs to write to an entity: its level and resource names."""

    level: str
    resource_name: str
    budget_resource: str | None = None
    ad_group_id: str | None = None
    final_urls: tuple[str, ...] = ()
    campaign_id: str | None = None  # an ad group's campaign (its location criteria live there)
    channel: str | None = None  # a campaign's advertising channel type (SEARCH, DISPLAY, PERFORMANCE_MAX, ...)


@dataclass
class AccountState:
    """Resource names learnt from the last entity read, so a write needs no extra lookups."""

    targets: dict[str, Target] = field(default_factory=dict)
    shared_sets: dict[str, str] = field(default_factory=dict)  # name -> resource name
    linked: set[tuple[str, str]] = field(default_factory=set)  # (campaign id, shared set resource name)
    labels: dict[str, str] = field(default_factory=dict)  # label name -> resource name
    labelled: set[tuple[str, str]] = field(default_factory=set)  # (campaign or ad group id, label resource name)
    schedule_criteria: dict[str, list[str]] = field(default_factory=dict)  # campaign id -> its AD_SCHEDULE criteria
    bid_modifiers: dict[tuple[str, str], str] = field(default_factory=dict)  # (ad group id, device) -> resource
    # (ad group id, dimension, segment) -> its negative age range / gender criterion
    demographics: dict[tuple[str, str, str], str] = field(default_factory=dict)
    locations: dict[tuple[str, str], str] = field(default_factory=dict)  # (campaign id, region) -> its negative
    geo_constants: dict[str, set[str]] = field(default_factory=dict)  # region -> geo target constant(s)
    # (campaign id, user list id) -> its negative USER_LIST campaign criterion
    user_list_exclusions: dict[tuple[str, str], str] = field(default_factory=dict)
    # (campaign id, region) -> the constant(s) the campaign itself delivered in: first choice for a write
    campaign_geo_constants: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def metric_row(row: Any, account_id: str, currency: str, level: str) -> MetricRow:
    entity_id = str(row.ad_group.id) if level == "ad_set" else f"{row.ad_group.id}~{row.ad_group_ad.ad.id}"
    metrics = row.metrics
    return MetricRow(
        platform=PLATFORM, account_id=account_id, level="ad_set" if level == "ad_set" else "ad",
        entity_id=entity_id, day=parse_date(row.segments.date), currency=currency,
        spend=micros_to_money(metrics.cost_micros, currency), impressions=int(metrics.impressions),
        clicks=int(metrics.clicks), conversions=float(metrics.conversions),
        conversion_value=value_to_money(metrics.conversions_value, currency),
    )


def search_term_row(row: Any, account_id: str, currency: str) -> SearchTermRow:
    text = row.search_term_view.search_term
    if not text:
        raise ValueError("empty search term")
    metrics = row.metrics
    return SearchTermRow(
        account_id=account_id, campaign_id=str(row.campaign.id), ad_group_id=str(row.ad_group.id),
        day=parse_date(row.segments.date), search_term=text, impressions=int(metrics.impressions),
        clicks=int(metrics.clicks), spend=micros_to_money(metrics.cost_micros, currency),
        conversions=float(metrics.conversions), conversion_value=value_to_money(metrics.conversions_value, currency),
    )


def campaign_entity(row: Any, account_id: str, currency: str, negatives: list[dict[str, str]]) -> Entity:
    campaign = row.campaign
    budget = micros_to_money(row.campaign_budget.amount_micros, currency) if campaign.campaign_budget else None
    return Entity(
        platform=PLATFORM, account_id=account_id, level="campaign", entity_id=str(campaign.id), parent_id=None,
        name=campaign.name, status=status_of(campaign.status), currency=currency, daily_budget=budget,
        attributes={"platform_level": "campaign", "channel": campaign.advertising_channel_type.name,
                    "budget_resource": campaign.campaign_budget,
                    "budget_shared": bool(row.campaign_budget.explicitly_shared),
                    # how many campaigns use the budget: a change to a shared one moves all of them
                    "budget_campaigns": int(row.campaign_budget.reference_count or 1),
                    "budget_name": row.campaign_budget.name,
                    "negative_keywords": negatives},
    )


def ad_group_entity(row: Any, account_id: str, currency: str) -> Entity:
    group = row.ad_group
    attributes: dict[str, Any] = {"platform_level": "ad_group"}
    rotation = getattr(group.ad_rotation_mode, "name", str(group.ad_rotation_mode))
    if rotation in AD_ROTATIONS:  # UNSPECIFIED / UNKNOWN are left out
        attributes["ad_rotation"] = rotation
    return Entity(
        platform=PLATFORM, account_id=account_id, level="ad_set", entity_id=str(group.id),
        parent_id=str(row.campaign.id), name=group.name, status=status_of(group.status), currency=currency,
        attributes=attributes,
    )


def ad_entity(row: Any, account_id: str, currency: str) -> Entity:
    ad = row.ad_group_ad.ad
    headlines = [asset.text for asset in ad.responsive_search_ad.headlines]
    descriptions = [asset.text for asset in ad.responsive_search_ad.descriptions]
    return Entity(
        platform=PLATFORM, account_id=account_id, level="ad", entity_id=f"{row.ad_group.id}~{ad.id}",
        parent_id=str(row.ad_group.id), name=ad.name or f"Ad {ad.id}", status=status_of(row.ad_group_ad.status),
        currency=currency,
        attributes={"platform_level": "ad_group_ad", "ad_type": ad.type_.name, "headlines": headlines,
                    "descriptions": descriptions, "headline": headlines[0] if headlines else "",
                    "description": descriptions[0] if descriptions else "", "final_urls": list(ad.final_urls)},
    )


def keyword_entity(row: Any, account_id: str, currency: str) -> Entity:
    criterion = row.ad_group_criterion
    match_type = criterion.keyword.match_type.name
    text = criterion.keyword.text
    shown = {"EXACT": f"[{text}]", "PHRASE": f'"{text}"'}.get(match_type, text)
    return Entity(
        platform=PLATFORM, account_id=account_id, level="keyword",
        entity_id=f"{row.ad_group.id}~{criterion.criterion_id}", parent_id=str(row.ad_group.id), name=shown,
        status=status_of(criterion.status), currency=currency,
        attributes={"text": text, "match_type": match_type},
    )
