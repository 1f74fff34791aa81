"""Lead gen forms in the fake LinkedIn API: campaigns with the LEAD_GENERATION objective.

A lead gen campaign (`objectiveType: LEAD_GENERATION`) collects its conversions on LinkedIn, in its
lead form: `adAnalytics` reports them as `oneClickLeads` (form submissions) beside
`oneClickLeadFormOpens` (forms opened), with no `externalWebsiteConversions` and no conversion
value (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting-schema).
Any other campaign here is a website conversions campaign, with `oneClickLeads` 0.
"""

from __future__ import annotations

from typing import Any

from connectors.records import MetricRow

LEAD_OBJECTIVE = "LEAD_GENERATION"
WEBSITE_OBJECTIVE = "WEBSITE_CONVERSIONS"


def objective(lead_gen: bool) -> str:
    """The campaign's `objectiveType`."""
    return LEAD_OBJECTIVE if lead_gen else WEBSITE_OBJECTIVE


def conversion_fields(metric: MetricRow, lead_gen: bool) -> dict[str, Any]:
    """The conversion metrics of one analytics element of a lead gen or a website campaign."""
    conversions = int(metric.conversions)
    if lead_gen:
        return {"externalWebsiteConversions": 0, "conversionValueInLocalCurrency": "0",
                "oneClickLeads": conversions, "oneClickLeadFormOpens": conversions * 3 + metric.clicks // 4}
    return {"externalWebsiteConversions": conversions, "conversionValueInLocalCurrency": str(metric.conversion_value),
            "oneClickLeads": 0, "oneClickLeadFormOpens": 0}
