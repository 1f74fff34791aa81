"""LinkedIn professional-demographic breakdowns: one adAnalytics statistics request per account and
pivot, grouping by campaign (our ad set) and one `MEMBER_*` pivot, daily.

LinkedIn allows one professional-demographic pivot per request; its values are approximate and a
value with fewer than three events is left out to protect members' privacy, so what the rows do not
cover is completed as `unknown` against the campaign's totals
(https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from connectors.linkedin.reports import PLATFORM, date_param, last_id
from connectors.records import SegmentRow
from connectors.segments import linkedin_segment

PIVOTS: dict[str, str] = {"company_size": "MEMBER_COMPANY_SIZE", "industry": "MEMBER_INDUSTRY",
                          "seniority": "MEMBER_SENIORITY", "job_function": "MEMBER_JOB_FUNCTION"}
FIELDS = ("dateRange", "pivotValues", "impressions", "clicks", "costInLocalCurrency", "externalWebsiteConversions",
          "conversionValueInLocalCurrency")


def statistics_query(report: str, account_urn: str, start: date, end: date) -> str:
    return (f"q=statistics&pivots=List(CAMPAIGN,{PIVOTS[report]})&timeGranularity=DAILY"
            f"&dateRange=(start:{date_param(start)},end:{date_param(end)})"
            f"&accounts=List({quote(account_urn, safe='')})&fields={','.join(FIELDS)}")


def segment_row(report: str, raw: Mapping[str, Any], account_id: str, currency: str) -> SegmentRow:
    campaign, value = raw["pivotValues"][0], raw["pivotValues"][1]
    start = raw["dateRange"]["start"]
    return SegmentRow(
        PLATFORM, account_id, last_id(campaign), date(int(start["year"]), int(start["month"]), int(start["day"])),
        report, linkedin_segment(report, str(value)), currency,
        spend=Decimal(str(raw.get("costInLocalCurrency") or "0")), impressions=int(raw.get("impressions") or 0),
        clicks=int(raw.get("clicks") or 0), conversions=float(raw.get("externalWebsiteConversions") or 0),
        conversion_value=Decimal(str(raw.get("conversionValueInLocalCurrency") or "0")))
