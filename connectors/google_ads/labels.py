"""Google Ads labels on campaigns and ad groups: reading them, and `add_label` / `remove_label`.

A label is an account-level `Label` (LabelService; `customers/{c}/labels/{label_id}`) attached to a
campaign by a `CampaignLabel` (`customers/{c}/campaignLabels/{campaign_id}~{label_id}`) or to an ad
group by an `AdGroupLabel` (`customers/{c}/adGroupLabels/{ad_group_id}~{label_id}`); both are created
with a `create` operation and detached with a `remove` operation naming that resource
(https://developers.google.com/google-ads/api/reference/rpc/v26/CampaignLabelOperation and
AdGroupLabelOperation, LabelOperation; GAQL resources `label`, `campaign_label`, `ad_group_label`,
whose attributed resources include `campaign`, `ad_group` and `label`). Adding a label the account
does not have yet takes two steps, like negative lists: create the label, then attach it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from connectors.google_ads.reports import AccountState, Target
from connectors.records import Entity, Mutation

LABELS = "SELECT label.id, label.name FROM label WHERE label.status = 'ENABLED'"
CAMPAIGN_LABELS = "SELECT campaign.id, label.id FROM campaign_label"
AD_GROUP_LABELS = "SELECT ad_group.id, label.id FROM ad_group_label"

SERVICES: dict[str, tuple[str, str]] = {
    "LabelService": ("mutate_labels", "LabelOperation"),
    "CampaignLabelService": ("mutate_campaign_labels", "CampaignLabelOperation"),
    "AdGroupLabelService": ("mutate_ad_group_labels", "AdGroupLabelOperation"),
}
_LINK = {"campaign": ("CampaignLabelService", "campaignLabels", "campaign"),
         "ad_set": ("AdGroupLabelService", "adGroupLabels", "ad_group")}
MAX_NAME = 80  # Label.name: at most 80 characters (LabelError.TOO_LONG beyond)


@dataclass
class LabelLink:
    """One `add_label`: the entity, the label's name, and its resource name once it exists."""

    mutation_index: int
    entity_id: str
    target: Target
    name: str
    label: str | None
    creator: int | None = None  # the mutation whose LabelService create makes the label (one per name)


def read_labels(customer_id: str, label_rows: Sequence[Any], campaign_rows: Sequence[Any],
                ad_group_rows: Sequence[Any], state: AccountState) -> dict[str, list[str]]:
    """Entity id -> its label names (campaigns and ad groups), and the account's labels into `state`."""
    names = {str(row.label.id): str(row.label.name) for row in label_rows}
    state.labels = {name: f"customers/{customer_id}/labels/{label_id}" for label_id, name in names.items()}
    by_entity: dict[str, list[str]] = defaultdict(list)
    for entity_id, label_id in [*((str(r.campaign.id), str(r.label.id)) for r in campaign_rows),
                                *((str(r.ad_group.id), str(r.label.id)) for r in ad_group_rows)]:
        if label_id in names:  # a removed label's links are not shown
            by_entity[entity_id].append(names[label_id])
            state.labelled.add((entity_id, state.labels[names[label_id]]))
    return by_entity


def with_labels(entities: Sequence[Entity], labels: Mapping[str, list[str]]) -> list[Entity]:
    """Campaigns and ad groups with `attributes["labels"]` (an empty list when they have none)."""
    return [replace(e, attributes={**e.attributes, "labels": sorted(labels.get(e.entity_id, []))})
            if e.level in _LINK else e for e in entities]


def label_name(mutation: Mutation) -> str:
    name = str(mutation.params.get("label", "")).strip()
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"params.label must be 1..{MAX_NAME} characters")
    return name


def plan_label(client: Any, customer_id: str, index: int, mutation: Mutation, target: Target, state: AccountState,
               requests: dict[str, list[Any]], links: list[LabelLink], refs: dict[int, str],
               operation_of: Any) -> None:
    """The operations of one `add_label` or `remove_label` (`operation_of(index, op)` wraps them)."""
    if target.level not in _LINK:
        raise ValueError(f"labels are set on campaigns and ad groups, not on a {target.level}")
    name = label_name(mutation)
    service, collection, _ = _LINK[target.level]
    label = state.labels.get(name)
    entity_id = mutation.entity_id
    if mutation.kind == "remove_label":
        if label is None or (entity_id, label) not in state.labelled:
            refs[index] = ""  # nothing to remove: already as asked
            return
        operation = client.get_type(SERVICES[service][1])
        link = f"customers/{customer_id}/{collection}/{entity_id}~{label.rsplit('/', 1)[-1]}"
        operation.remove = link
        requests[service].append(operation_of(index, operation))
        refs[index] = link
        return
    creator = next((link.creator for link in links if link.label is None and link.name == name), None)
    if label is None and creator is None:  # one create per new name, however many entities get it
        operation = client.get_type("LabelOperation")
        operation.create.name = name
        requests["LabelService"].append(operation_of(index, operation))
        creator = index
    links.append(LabelLink(index, entity_id, target, name, label, creator))


def link_operations(client: Any, links: Sequence[LabelLink], created: Mapping[int, str], is_open: Any,
                    refs: dict[int, str], operation_of: Any) -> dict[str, list[Any]]:
    """The attach operations of every `add_label` whose label now exists (`created`: index -> label)."""
    requests: dict[str, list[Any]] = defaultdict(list)
    for link in links:
        label = link.label or (created.get(link.creator) if link.creator is not None else None)
        if label is None or not is_open(link.mutation_index):
            continue
        service, _, field_name = _LINK[link.target.level]
        operation = client.get_type(SERVICES[service][1])
        setattr(operation.create, field_name, link.target.resource_name)
        operation.create.label = label
        requests[service].append(operation_of(link.mutation_index, operation))
        refs[link.mutation_index] = label
    return requests
