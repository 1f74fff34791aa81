"""Audience exclusions of Google Ads campaigns: a negative user-list campaign criterion.

A `CampaignCriterion` with `user_list.user_list = customers/{c}/userLists/{id}` and `negative = true`
keeps the list's members from every ad group of the campaign (CampaignCriterionService; the v26
protos: `CampaignCriterion.user_list` is a `UserListInfo`, `negative` is immutable, so an exclusion
is created and removed, never updated; removal by `customers/{c}/campaignCriteria/{campaign_id}~{criterion_id}`).
Search and Display campaigns take it. Performance Max does not: its campaign criteria are ad
schedule, age range, brand, device, keyword, language, location and webpage
(https://developers.google.com/google-ads/api/performance-max/create-campaign-criteria), so a
Performance Max campaign gets no exclusion here and the policy proposes none there.

Read with the account's other campaign criteria (connectors/google_ads/campaign_criteria.py: its
negative USER_LIST rows); a campaign of a channel that takes the exclusion shows its excluded list ids
as `excluded_audience_ids`, the same attribute Meta ad sets carry, so the drift check and the
settlement of a lost answer read it alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from connectors.records import Entity

SERVICE = "CampaignCriterionService"
# advertising channels whose campaigns take a negative user-list criterion
EXCLUDABLE_CHANNELS = frozenset({"SEARCH", "DISPLAY"})


def user_list_id(resource_name: str) -> str:
    """`customers/1/userLists/42` -> `42`."""
    return resource_name.rsplit("/", 1)[-1]


def user_list_resource(customer_id: str, audience_id: str) -> str:
    if not audience_id.isdigit():
        raise ValueError(f"a Google user list id is a number, got {audience_id!r}")
    return f"customers/{customer_id}/userLists/{audience_id}"


def read(customer_id: str, rows: Iterable[Any]) -> tuple[dict[str, list[str]], dict[tuple[str, str], str]]:
    """({campaign id: excluded user list ids}, {(campaign id, user list id): criterion resource name})."""
    excluded: dict[str, list[str]] = {}
    resources: dict[tuple[str, str], str] = {}
    for row in rows:
        campaign, list_id = str(row.campaign.id), user_list_id(row.campaign_criterion.user_list.user_list)
        excluded.setdefault(campaign, []).append(list_id)
        resources[(campaign, list_id)] = (f"customers/{customer_id}/campaignCriteria/{campaign}~"
                                          f"{row.campaign_criterion.criterion_id}")
    return {c: sorted(set(ids)) for c, ids in excluded.items()}, resources


def with_exclusions(entities: Sequence[Entity], excluded: Mapping[str, list[str]]) -> list[Entity]:
    """Campaigns of a channel that takes the exclusion carry `excluded_audience_ids` (empty when none)."""
    return [replace(e, attributes={**e.attributes, "excluded_audience_ids": list(excluded.get(e.entity_id, []))})
            if e.level == "campaign" and e.attributes.get("channel") in EXCLUDABLE_CHANNELS else e
            for e in entities]


def operation(client: Any, customer_id: str, campaign_resource: str, channel: str | None, audience_id: str,
              excluded: bool, existing: str | None) -> Any:
    """The CampaignCriterionOperation that excludes the user list from the campaign (or removes that
    exclusion); ValueError for what Google would refuse or what is already so."""
    if channel not in EXCLUDABLE_CHANNELS:
        raise ValueError(f"a {channel or 'unknown'} campaign takes no user-list exclusion "
                         f"(only {', '.join(sorted(EXCLUDABLE_CHANNELS))} campaigns do)")
    op = client.get_type("CampaignCriterionOperation")
    if not excluded:
        if existing is None:
            raise ValueError(f"the campaign does not exclude user list {audience_id}")
        op.remove = existing
        return op
    if existing is not None:
        raise ValueError(f"the campaign already excludes user list {audience_id}")
    op.create.campaign = campaign_resource
    op.create.negative = True
    op.create.user_list.user_list = user_list_resource(customer_id, audience_id)
    return op
