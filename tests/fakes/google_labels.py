"""Labels in the fake Google Ads API: `LabelService`, `CampaignLabelService`, `AdGroupLabelService`
and the GAQL resources `label`, `campaign_label`, `ad_group_label`, as the v26 reference describes them
(LabelOperation create; CampaignLabelOperation / AdGroupLabelOperation create, or remove by the link's
resource name `customers/{c}/campaignLabels/{campaign_id}~{label_id}` /
`customers/{c}/adGroupLabels/{ad_group_id}~{label_id}`). Label names are unique in an account (a second
create of one is refused, LabelError.DUPLICATE_NAME); attaching a label already attached is refused
(MutateError.RESOURCE_ALREADY_EXISTS); removing a link that does not exist is RESOURCE_NOT_FOUND.

The label registry (id, name) lives here; which entity has which label lives in the simulator, which the
links become mutations of (`add_label` / `remove_label`), so the agent's reads see what was written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from google.ads.googleads.v26.services.types import (
    ad_group_label_service,
    campaign_label_service,
    label_service,
)

from connectors.records import Entity
from tests.fakes.platform_fixtures import IdMap

MUTATE_SERVICES: dict[str, tuple[str, Any, Any, Any]] = {
    "LabelService": ("MutateLabels", label_service.MutateLabelsRequest, label_service.MutateLabelsResponse,
                     label_service.MutateLabelResult),
    "CampaignLabelService": ("MutateCampaignLabels", campaign_label_service.MutateCampaignLabelsRequest,
                             campaign_label_service.MutateCampaignLabelsResponse,
                             campaign_label_service.MutateCampaignLabelResult),
    "AdGroupLabelService": ("MutateAdGroupLabels", ad_group_label_service.MutateAdGroupLabelsRequest,
                            ad_group_label_service.MutateAdGroupLabelsResponse,
                            ad_group_label_service.MutateAdGroupLabelResult),
}
_LINKS = {"CampaignLabelService": ("campaign", "campaignLabels", "campaign"),
          "AdGroupLabelService": ("ad_set", "adGroupLabels", "ad_group")}
Mutation = tuple[str, str, dict[str, Any]]


class LabelRefused(ValueError):
    """An operation the API refuses, with its error code (kind, value)."""

    def __init__(self, kind: str, value: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.value = kind, value


class Labels:
    """The accounts' labels: id -> (customer, name)."""

    def __init__(self, ids: IdMap) -> None:
        self.ids = ids
        self.by_id: dict[int, tuple[str, str]] = {}

    def _id(self, customer: str, name: str, create: bool = True) -> int | None:
        for label_id, (owner, known) in self.by_id.items():
            if owner == customer and known == name:
                return label_id
        if not create:
            return None
        label_id = self.ids.numeric(f"label:{customer}:{name}")
        self.by_id[label_id] = (customer, name)
        return label_id

    def translate(self, service: str, operation: Any, customer: str, entities: Mapping[str, Entity],
                  sim_id: Callable[[str], str], validate_only: bool) -> tuple[str, Mutation | None]:
        """(resource name, simulator mutation or None) for one label operation; ValueError if refused."""
        if service == "LabelService":
            name = operation.create.name
            if not name or len(name) > 80:
                raise LabelRefused("label_error", "INVALID_LABEL_NAME", "label name must be 1..80 characters")
            if self._id(customer, name, create=False) is not None:
                raise LabelRefused("label_error", "DUPLICATE_NAME", f"a label named {name!r} exists")
            if validate_only:
                return "", None
            return f"customers/{customer}/labels/{self._id(customer, name)}", None
        level, collection, field_name = _LINKS[service]
        if "remove" in operation:
            link = operation.remove
            entity_part, label_part = link.rsplit("/", 1)[-1].split("~")
            entity = entities.get(sim_id(f"x/{entity_part}"))
            label = self.by_id.get(int(label_part))
            if entity is None or label is None or label[1] not in entity.attributes.get("labels", []):
                raise LabelRefused("mutate_error", "RESOURCE_NOT_FOUND", f"resource {link} not found")
            return link, ("remove_label", entity.entity_id, {"label": label[1]})
        create = operation.create
        entity_name = getattr(create, field_name)
        entity = entities.get(sim_id(entity_name))
        label_id = int(create.label.rsplit("/", 1)[-1]) if create.label else -1
        label = self.by_id.get(label_id)
        if entity is None or entity.level != level or label is None or label[0] != customer:
            raise LabelRefused("mutate_error", "RESOURCE_NOT_FOUND", f"{entity_name} or {create.label} not found")
        if label[1] in entity.attributes.get("labels", []):
            raise LabelRefused("mutate_error", "RESOURCE_ALREADY_EXISTS", f"{create.label} is already attached")
        return (f"customers/{customer}/{collection}/{entity_name.rsplit('/', 1)[-1]}~{label_id}",
                ("add_label", entity.entity_id, {"label": label[1]}))

    def rows(self, resource: str, customer: str, entities: Mapping[str, Entity], row_type: Any) -> list[Any]:
        """Rows of `FROM label`, `FROM campaign_label` or `FROM ad_group_label` for one customer."""
        rows = []
        if resource == "label":
            for entity in entities.values():  # labels the simulator knows, registered on first sight
                for name in entity.attributes.get("labels", []):
                    self._id(customer, name)
            for label_id, (owner, name) in sorted(self.by_id.items()):
                if owner == customer:
                    row = row_type()
                    row.label.id, row.label.name, row.label.status = label_id, name, "ENABLED"
                    rows.append(row)
            return rows
        level = "campaign" if resource == "campaign_label" else "ad_set"
        for entity in entities.values():
            if entity.level != level:
                continue
            for name in entity.attributes.get("labels", []):
                row = row_type()
                if level == "campaign":
                    row.campaign.id = self.ids.numeric(entity.entity_id)
                else:
                    row.ad_group.id = self.ids.numeric(entity.entity_id)
                row.label.id = self._id(customer, name)
                rows.append(row)
        return rows
