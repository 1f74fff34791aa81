"""Meta ad labels on campaigns and ad sets: reading them, `add_label` and `remove_label`.

Campaigns and ad sets list their labels in the `adlabels` field ([{id, name}]). A label is associated
with `POST /{object_id}/adlabels` and `adlabels=[{"name": ...}]` (a label of that name is created in the
account if it has none); an ad set's label is dissociated with `DELETE /{ad_set_id}/adlabels` and
`adlabels=[{"id": ...}]` (the Marketing API reference: Ad Label, Ad Campaign Group Adlabels, Ad Campaign
Adlabels; the SDK's `create_ad_label` / `delete_ad_labels`). Campaigns have no DELETE on that edge,
so a campaign's label is removed in Ads Manager: `remove_label` on a campaign is refused in words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.campaign import Campaign
from facebook_business.api import FacebookAdsApiBatch, FacebookResponse

from connectors.records import Mutation, MutationResult

MAX_NAME = 80
Enqueue = Callable[[FacebookAdsApiBatch], None]


def labels_of(raw: Mapping[str, Any]) -> dict[str, str]:
    """An object's labels as {name: id}, from its `adlabels` field (absent: none)."""
    found = raw.get("adlabels") or []
    if isinstance(found, Mapping):  # a Graph edge read as a field comes wrapped in {"data": [...]}
        found = found.get("data") or []
    return {str(label.get("name")): str(label.get("id")) for label in found if isinstance(label, Mapping)}


def enqueue_label(api: Any, index: int, mutation: Mutation, level: str, label_ids: Mapping[str, str],
                  results: list[MutationResult | None], failed: Callable[[FacebookResponse], None]) -> Enqueue | None:
    """The batch call of one `add_label` / `remove_label`, or None when there is nothing to send (the
    label to remove is not there: recorded as applied). ValueError when Meta cannot express it."""
    name = str(mutation.params.get("label", "")).strip()
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"params.label must be 1..{MAX_NAME} characters")
    if level not in ("campaign", "ad_set"):
        raise ValueError(f"labels are set on campaigns and ad sets, not on a {level}")
    if mutation.kind == "remove_label":
        if level == "campaign":
            raise ValueError("Meta has no call to remove a campaign's label: remove it in Ads Manager")
        label_id = label_ids.get(name)
        if label_id is None:
            results[index] = MutationResult(mutation.idempotency_key, ok=True, platform_ref=mutation.entity_id,
                                            already_applied=True)
            return None

    def succeeded(response: FacebookResponse) -> None:
        results[index] = MutationResult(mutation.idempotency_key, ok=True, platform_ref=mutation.entity_id)

    def enqueue(batch: FacebookAdsApiBatch) -> None:
        if mutation.kind == "add_label":
            owner: Any = Campaign(mutation.entity_id, api=api) if level == "campaign" else AdSet(mutation.entity_id,
                                                                                                 api=api)
            owner.create_ad_label(params={"adlabels": [{"name": name}]}, batch=batch, success=succeeded,
                                  failure=failed)
        else:
            AdSet(mutation.entity_id, api=api).delete_ad_labels(params={"adlabels": [{"id": label_ids[name]}]},
                                                                batch=batch, success=succeeded, failure=failed)

    return enqueue

