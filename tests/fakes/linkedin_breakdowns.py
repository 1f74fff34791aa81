"""Professional-demographic reports of the fake LinkedIn adAnalytics, from the simulator's segments.

The statistics finder (`q=statistics&pivots=List(CAMPAIGN,MEMBER_COMPANY_SIZE)`) groups by up to
three pivots, of which at most one professional-demographic (`MEMBER_*`) pivot
(https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting).
Demographic values are approximate to protect members' privacy and a value with fewer than three
events is not returned, so the rows of a campaign and day need not sum to its totals. Pivot values
are LinkedIn's: company-size enums (`SIZE_11_TO_50`) and standardized-data URNs
(`urn:li:seniority:5`, `urn:li:function:8`, `urn:li:industry:4`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from connectors.records import MetricRow
from connectors.simulator.segments import Exclusions, split_row

PRIVACY_MIN_EVENTS = 3
_PIVOTS = {"MEMBER_COMPANY_SIZE": "company_size", "MEMBER_INDUSTRY": "industry", "MEMBER_SENIORITY": "seniority",
           "MEMBER_JOB_FUNCTION": "job_function"}
_COMPANY_SIZE = {"1": "SIZE_1", "2-10": "SIZE_2_TO_10", "11-50": "SIZE_11_TO_50", "51-200": "SIZE_51_TO_200",
                 "201-500": "SIZE_201_TO_500", "501-1000": "SIZE_501_TO_1000", "1001-5000": "SIZE_1001_TO_5000",
                 "5001-10000": "SIZE_5001_TO_10000", "10001+": "SIZE_10001_OR_MORE"}
_SENIORITY = {"entry": 3, "senior": 4, "manager": 5, "director": 6, "vp": 7, "cxo": 8}
_FUNCTION = {"engineering": 8, "finance": 10, "information-technology": 13, "marketing": 15, "sales": 25}
_INDUSTRY = {"software-development": 4, "technology-information-and-internet": 6, "financial-services": 43,
             "it-services-and-it-consulting": 96}


class BadRequest(ValueError):
    pass


def pivots_of(params: dict[str, str]) -> list[str]:
    match = re.fullmatch(r"List\(([^)]*)\)", unquote(params.get("pivots", "")))
    if not match:
        raise BadRequest("pivots must be List(...)")
    pivots = [p.strip() for p in match.group(1).split(",") if p.strip()]
    if not 1 <= len(pivots) <= 3:
        raise BadRequest("between 1 and 3 pivots are allowed")
    if sum(1 for p in pivots if p.startswith("MEMBER_")) > 1:
        raise BadRequest("only one professional demographic pivot is allowed per request")
    if pivots[0] != "CAMPAIGN" or len(pivots) != 2 or pivots[1] not in _PIVOTS:
        raise BadRequest(f"unsupported pivots {pivots} (this fake answers CAMPAIGN with one MEMBER_ pivot)")
    return pivots


def pivot_value(dimension: str, segment: str) -> str:
    if dimension == "company_size":
        return _COMPANY_SIZE[segment]
    if dimension == "seniority":
        return f"urn:li:seniority:{_SENIORITY[segment]}"
    if dimension == "job_function":
        return f"urn:li:function:{_FUNCTION[segment]}"
    return f"urn:li:industry:{_INDUSTRY[segment]}"


def elements(metrics: list[MetricRow], member_pivot: str, seed: int, campaign_urn: Any,
             fields: list[str], excluded: Exclusions | None = None) -> list[dict[str, Any]]:
    dimension = _PIVOTS[member_pivot]
    found = []
    for metric in metrics:
        if metric.level != "ad_set":
            continue
        day = {"year": metric.day.year, "month": metric.day.month, "day": metric.day.day}
        for piece in split_row(seed, metric, (dimension,), excluded):
            if piece.clicks + int(piece.conversions) < PRIVACY_MIN_EVENTS:
                continue  # under the privacy threshold: not returned
            element = {"dateRange": {"start": day, "end": day},
                       "pivotValues": [campaign_urn(metric.entity_id), pivot_value(dimension, piece.segments[0])],
                       "impressions": piece.impressions, "clicks": piece.clicks,
                       "costInLocalCurrency": str(piece.spend),
                       "externalWebsiteConversions": int(piece.conversions),
                       "conversionValueInLocalCurrency": str(piece.conversion_value)}
            found.append({k: v for k, v in element.items() if k in fields})
    return found
