"""Location exclusions of campaigns: negative location campaign criteria, read with the account's other
campaign criteria (connectors/google_ads/campaign_criteria.py) and written through CampaignCriterionService.

Google Ads targets locations on the campaign, not the ad group: an excluded location is a
`CampaignCriterion` with `negative` = true and a `LocationInfo` whose `geo_target_constant` is a
`geoTargetConstants/{id}` resource name (the criterion id is the constant's id). Its resource name is
`customers/{customer_id}/campaignCriteria/{campaign_id}~{criterion_id}`; an exclusion is taken back by
removing it (https://developers.google.com/google-ads/api/fields/v26/campaign_criterion, the v26
`LocationInfo` and `CampaignCriterionOperation` messages, and the location targeting guide,
https://developers.google.com/google-ads/api/docs/targeting/location-targeting). A negative location
means no ad group of the campaign serves there: the -100% Smart Bidding honours.

Our segment is the slug of the constant's name (connectors/segments.py `region`), as the
`geographic_view` breakdown names it (connectors/google_ads/breakdowns.py); the write needs the
constant back, so the connector keeps the names it looked up, and for a region it has not seen, asks
`geographic_view` which regions the campaign delivered in over the last 30 days (`regions_query`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.segments import UNKNOWN, region

SERVICE = "CampaignCriterionService"
DIMENSION = "region"
KIND = "exclude_location"


def regions_query(campaign_id: str) -> str:
    """The regions one campaign delivered in lately (their geo target constants, named by one lookup)."""
    return ("SELECT campaign.id, segments.geo_target_region, metrics.impressions FROM geographic_view "
            f"WHERE campaign.id = {int(campaign_id)} AND segments.date DURING LAST_30_DAYS")


def read(rows: Iterable[Any]) -> dict[str, dict[str, str]]:
    """{campaign id: {geo target constant: its negative criterion's resource name}} from the negative
    LOCATION rows of `campaign_criteria.QUERY` (campaign.id, resource name, location.geo_target_constant)."""
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        constant = str(row.campaign_criterion.location.geo_target_constant or "")
        if constant:
            found.setdefault(str(row.campaign.id), {})[constant] = row.campaign_criterion.resource_name
    return found


def by_segment(criteria: Mapping[str, Mapping[str, str]], names: Mapping[str, str]
               ) -> tuple[dict[str, list[str]], dict[tuple[str, str], str], dict[str, str]]:
    """({campaign id: [excluded region, ...]}, {(campaign id, region): criterion resource},
    {region: geo target constant}) in our region names; a constant without a name is left out."""
    excluded: dict[str, list[str]] = {}
    resources: dict[tuple[str, str], str] = {}
    constants: dict[str, str] = {}
    for campaign, found in criteria.items():
        for constant, resource in found.items():
            segment = region(names.get(constant))
            if segment == UNKNOWN:
                continue
            excluded.setdefault(campaign, []).append(segment)
            resources[(campaign, segment)] = resource
            constants[segment] = constant
    return {c: sorted(s) for c, s in excluded.items()}, resources, constants


def constants_by_region(names: Mapping[str, str]) -> dict[str, set[str]]:
    """{our region: {geo target constant, ...}} from {constant: its name} (two names can slug alike)."""
    found: dict[str, set[str]] = {}
    for constant, name in names.items():
        segment = region(name)
        if segment != UNKNOWN:
            found.setdefault(segment, set()).add(constant)
    return found


def operation(client: Any, campaign_resource: str, segment: str, constant: str | None, excluded: bool,
              existing: str | None) -> Any | None:
    """The CampaignCriterionOperation that excludes the region (a negative location criterion) or takes
    the exclusion back (removes it); None when it is already so. ValueError for what cannot be sent."""
    if excluded == (existing is not None):
        return None
    op = client.get_type("CampaignCriterionOperation")
    if not excluded:
        op.remove = existing
        return op
    if not constant:
        raise ValueError(f"region {segment!r}: no geo target constant known for it (the campaign has not "
                         "delivered there in the last 30 days)")
    op.create.campaign = campaign_resource
    op.create.negative = True
    op.create.location.geo_target_constant = constant
    return op
