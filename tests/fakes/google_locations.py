"""Location campaign criteria in the fake Google Ads API: the LOCATION rows of `FROM campaign_criterion`
(tests/fakes/google_ads_server.py filters them by the query's WHERE) and CampaignCriterionService
create / remove operations with a `location`, answered from the simulator's ad sets.

Following the CampaignCriterion and LocationInfo references of v26
(https://developers.google.com/google-ads/api/fields/v26/campaign_criterion): the resource name is
`customers/{customer_id}/campaignCriteria/{campaign_id}~{criterion_id}`, a location criterion's id is
its geo target constant's id, and a campaign cannot hold the same location twice. The simulator keeps
the exclusion on every ad set of the campaign (connectors/simulator/segment_actions.py): the rows show
a campaign's excluded regions, and a write names the campaign's first ad set, which the simulator
spreads over the campaign. Only negative (excluding) location criteria are written here; a test can
give campaigns targeted locations (positive criteria, `FakeGoogleAds.targeted_locations`), which every
real campaign has and which reads of exclusions must leave out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from connectors.records import Entity
from tests.fakes.platform_fixtures import IdMap

KIND = "exclude_location"


class LocationRefused(ValueError):
    def __init__(self, kind: str, value: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.value = kind, value


def is_location_operation(operation: Any, ids: IdMap) -> bool:
    if "create" in operation:
        return "location" in operation.create
    return "remove" in operation and str(ids.sim(operation.remove.rsplit("~", 1)[-1]) or "").startswith("geo:")


def _campaign_regions(entities: Mapping[str, Entity]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for entity in entities.values():
        if entity.level == "ad_set" and entity.parent_id:
            cut = (entity.attributes.get("excluded_segments") or {}).get("region", [])
            found.setdefault(str(entity.parent_id), set()).update(str(s) for s in cut)
    return found


def rows(entities: Mapping[str, Entity], customer: str, ids: IdMap, new_row: Callable[[], Any],
         targeted: Mapping[str, Collection[str]] | None = None) -> list[Any]:
    """The campaigns' excluded regions (negative criteria) and `targeted` ones ({sim campaign id: regions},
    positive criteria) of the customer's campaigns."""
    found = []
    excluded = _campaign_regions(entities)
    campaigns = {e.entity_id for e in entities.values() if e.level == "campaign"}
    for campaign in sorted(set(excluded) | (set(targeted or {}) & campaigns)):
        cut = excluded.get(campaign, set())
        for segment, negative in [*((s, True) for s in sorted(cut)),
                                  *((s, False) for s in sorted(set((targeted or {}).get(campaign, ())) - cut))]:
            row = new_row()
            row.campaign.id = ids.numeric(campaign)
            geo = ids.numeric(f"geo:{segment}")
            criterion = row.campaign_criterion
            criterion.resource_name = f"customers/{customer}/campaignCriteria/{row.campaign.id}~{geo}"
            criterion.criterion_id = geo
            criterion.type_ = "LOCATION"
            criterion.status = "ENABLED"
            criterion.negative = negative
            criterion.location.geo_target_constant = f"geoTargetConstants/{geo}"
            found.append(row)
    return found


def translate(operation: Any, customer: str, entities: Mapping[str, Entity], ids: IdMap,
              sim_id: Callable[[str], str]) -> tuple[str, tuple[str, str, dict[str, Any]]]:
    """(resource name, simulator mutation) for one create / remove; LocationRefused if Google refuses it."""
    if "create" in operation:
        create = operation.create
        if not create.negative:
            raise LocationRefused("field_error", "INVALID_VALUE", "only negative location criteria are supported here")
        campaign = sim_id(create.campaign)
        constant = create.location.geo_target_constant
        geo_part = constant.rsplit("/", 1)[-1]
        sim_geo = str(ids.sim(geo_part) or "")
        if not constant.startswith("geoTargetConstants/") or not sim_geo.startswith("geo:"):
            raise LocationRefused("mutate_error", "RESOURCE_NOT_FOUND", f"geo target constant {constant!r} not found")
        segment, excluded = sim_geo.removeprefix("geo:"), True
        if segment in _campaign_regions(entities).get(campaign, set()):
            raise LocationRefused("mutate_error", "RESOURCE_ALREADY_EXISTS",
                                  f"{constant} is already a criterion of {create.campaign}")
        name = f"customers/{customer}/campaignCriteria/{create.campaign.rsplit('/', 1)[-1]}~{geo_part}"
    else:
        name = operation.remove
        campaign_part, geo_part = name.rsplit("/", 1)[-1].split("~")
        campaign = sim_id(f"x/{campaign_part}")
        segment, excluded = str(ids.sim(geo_part) or "").removeprefix("geo:"), False
        if segment not in _campaign_regions(entities).get(campaign, set()):
            raise LocationRefused("mutate_error", "RESOURCE_NOT_FOUND", f"resource {name} not found")
    ad_sets = sorted(e.entity_id for e in entities.values() if e.level == "ad_set" and e.parent_id == campaign)
    if not ad_sets:
        raise LocationRefused("mutate_error", "RESOURCE_NOT_FOUND", f"campaign of {name} has no ad group")
    return name, (KIND, ad_sets[0], {"dimension": "region", "segment": segment, "excluded": excluded})
