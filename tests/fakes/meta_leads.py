"""Lead ads in the fake Meta Graph API: campaigns with the objective OUTCOME_LEADS.

A lead ad campaign collects its leads in instant forms on Meta. Its insights rows (and its campaign
object) carry `objective: OUTCOME_LEADS` when `objective` is among the requested `fields`, and each
lead is reported under overlapping action types
(https://developers.facebook.com/docs/marketing-api/reference/ads-action-stats/): `lead` (the
total across instant forms and website leads), `onsite_conversion.lead_grouped` and
`leadgen_grouped` (both the instant-form leads). Instant forms report no value: no `action_values`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

LEAD_OBJECTIVE = "OUTCOME_LEADS"
SALES_OBJECTIVE = "OUTCOME_SALES"


def objective(lead_ads: bool) -> str:
    return LEAD_OBJECTIVE if lead_ads else SALES_OBJECTIVE


def requested(params: dict[str, str], name: str) -> bool:
    """Whether the Graph call asked for field `name` (`fields=a,b,c`, or a JSON list from the SDK)."""
    raw = params.get("fields") or ""
    return name in raw.replace("[", ",").replace("]", ",").replace('"', "").split(",")


def lead_actions(leads: float, clicks: int) -> list[dict[str, Any]]:
    """`actions` of an instant-form lead ad row with `leads` leads (it has no `action_values`)."""
    count = str(Decimal(str(leads)).normalize())
    actions = [{"action_type": "link_click", "value": str(clicks)}] + [
        {"action_type": kind, "value": count}
        for kind in ("lead", "onsite_conversion.lead_grouped", "leadgen_grouped")]
    return actions
