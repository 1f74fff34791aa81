"""LinkedIn's answers read into our records: statuses, targeting segments, campaigns, analytics.

LinkedIn names things one level up: its campaign group is our `campaign`, its campaign our
`ad_set`, its creative our `ad`. Money comes as decimal strings in the account currency.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from connectors.linkedin.leads import conversions_of
from connectors.linkedin.targeting_exclusions import excluded_segments
from connectors.records import Entity, MetricRow, Status

log = logging.getLogger(__name__)
R = TypeVar("R")
PLATFORM = "linkedin"
ANALYTICS_FIELDS = ("dateRange", "pivotValues", "impressions", "clicks", "costInLocalCurrency",
                    "externalWebsiteConversions", "conversionValueInLocalCurrency", "approximateMemberReach",
                    "oneClickLeads")
assert len(ANALYTICS_FIELDS) <= 20, "adAnalytics accepts at most 20 fields per request"
SEGMENT_FACET = "urn:li:adTargetingFacet:audienceMatchingSegments"
_STATUS: dict[str, Status] = {"ACTIVE": "ACTIVE", "PAUSED": "PAUSED", "DRAFT": "PAUSED", "ARCHIVED": "REMOVED",
                              "CANCELED": "REMOVED", "REMOVED": "REMOVED", "COMPLETED": "PAUSED",
                              "PENDING_DELETION": "REMOVED"}  # a deleted draft, gone once LinkedIn purges it


@dataclass(frozen=True)
class LinkedInAccount:
    """A configured account: our id, LinkedIn's numeric ad account id, token and time zone."""

    account_id: str
    ad_account: str
    name: str
    timezone: str
    credentials: Mapping[str, str] = field(repr=False)
    organization: str | None = None  # new_ads.linkedin_organization: the page that authors new ads
    landing_url: str | None = None  # new_ads.landing_url
    conversion_event: str | None = None  # website, lead, or None: by campaign objective (leads.py)

    @property
    def urn(self) -> str:
        return f"urn:li:sponsoredAccount:{self.ad_account}"


def date_param(value: date) -> str:
    return f"(year:{value.year},month:{value.month},day:{value.day})"


def last_id(urn: Any) -> str:
    return str(urn).rsplit(":", 1)[-1]


def status_of(raw: Any) -> Status:
    if raw not in _STATUS:
        raise ValueError(f"unexpected status {raw!r}")
    return _STATUS[raw]


def segments(criteria: Mapping[str, Any] | None, part: str) -> list[str]:
    """Audience segment ids under `include` or `exclude` of a targetingCriteria."""
    node = (criteria or {}).get(part) or {}
    groups = node.get("and", [node]) if part == "include" else [node]
    return [last_id(urn) for group in groups for urn in (group.get("or") or {}).get(SEGMENT_FACET, [])]


# Facets on which a member has exactly one value: one (inferred) age range and one gender
# (https://learn.microsoft.com/en-us/linkedin/shared/references/v2/ads/targeting-facets: AGE_18_24,
# AGE_25_34, AGE_35_54, AGE_55_PLUS; a member matches a facet through one of its values). Not
# seniorities, job functions or locations: a member with two current positions has two seniorities,
# and a geo URN does not tell which other geos contain it.
ONE_VALUE_FACETS = ("urn:li:adTargetingFacet:ageRanges", "urn:li:adTargetingFacet:genders")


def one_value_targeting(criteria: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The values a campaign's members must have on each one-value facet: from an `include` "and"
    clause whose "or" names that facet alone (an "or" across facets lets a member in through another
    facet, so it restricts nothing provably). Two clauses on one facet: both must hold."""
    found: dict[str, set[str]] = {}
    for group in ((criteria or {}).get("include") or {}).get("and") or ():
        facets = (group or {}).get("or") or {}
        if len(facets) != 1:
            continue
        ((facet, values),) = facets.items()
        if facet in ONE_VALUE_FACETS and values:
            found[facet] = found[facet] & {str(v) for v in values} if facet in found else {str(v) for v in values}
    return {facet: sorted(values) for facet, values in found.items()}


def campaign_entity(raw: Mapping[str, Any], account_id: str, currency: str) -> Entity:
    budget = raw.get("dailyBudget") or {}
    criteria = raw.get("targetingCriteria") or {}
    return Entity(
        PLATFORM, account_id, "ad_set", last_id(raw["id"]), last_id(raw["campaignGroup"]), str(raw.get("name", "")),
        status_of(raw["status"]), currency,
        daily_budget=Decimal(str(budget["amount"])) if budget.get("amount") is not None else None,
        attributes={"platform_level": "campaign", "audience_ids": segments(criteria, "include"),
                    "excluded_audience_ids": segments(criteria, "exclude"), "ad_format": str(raw.get("format") or ""),
                    "excluded_segments": excluded_segments(criteria),
                    "objective": str(raw.get("objectiveType") or ""),
                    **({"one_value_targeting": one} if (one := one_value_targeting(criteria)) else {})},
    )


def metric_row(raw: Mapping[str, Any], account_id: str, currency: str, level: str,
               counts_leads: bool = False) -> MetricRow:
    start = raw["dateRange"]["start"]
    reach = raw.get("approximateMemberReach")
    return MetricRow(
        PLATFORM, account_id, "ad_set" if level == "ad_set" else "ad", last_id(raw["pivotValues"][0]),
        date(int(start["year"]), int(start["month"]), int(start["day"])), currency,
        spend=Decimal(str(raw.get("costInLocalCurrency") or "0")), impressions=int(raw.get("impressions") or 0),
        clicks=int(raw.get("clicks") or 0), conversions=conversions_of(raw, counts_leads),
        # the value is the website conversions' (conversion rules); lead gen forms carry none
        conversion_value=Decimal(0) if counts_leads else Decimal(str(raw.get("conversionValueInLocalCurrency") or "0")),
        reach=int(reach) if reach is not None else None,
    )


def parse_each(rows: Iterable[Any], parse: Callable[[Any], R], account_id: str, report: str) -> Iterator[R]:
    """Parse each element; one that cannot be parsed is logged (account, report, id) and skipped."""
    for row in rows:
        try:
            yield parse(row)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, IndexError) as error:
            data = row if isinstance(row, Mapping) else {}
            identity = data.get("id") or (data.get("pivotValues") or ["?"])[0]
            log.warning("linkedin account %s: skipped malformed %s element %s: %s", account_id, report, identity, error)

