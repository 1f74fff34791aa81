"""Turning a batch of mutations into Google Ads mutate operations, and the answers back.

A batch becomes at most one request per service (budgets, campaigns, ad groups, ads, keyword
criteria, shared sets, shared criteria, campaign-shared-set links), each sent with
`partial_failure=True` so one bad operation does not sink the rest. Negative keywords need two
steps: the shared set must exist before keywords are added to it and it is attached to the campaign.

Exactly-once tags: a responsive search ad has no name, so a new ad carries its mutation's tag in
its own URL custom parameters (`{_pmatag}`; keys are up to 16 letters or digits, see
https://developers.google.com/google-ads/api/reference/rpc/v26/CustomParameter and the Ad's
`url_custom_parameters`); a negative keyword is its own tag (text and match type in the list).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from google.protobuf import field_mask_pb2

from connectors.google_ads import (
    audience_exclusions,
    bid_modifiers,
    demographics,
    labels,
    locations,
    pmax,
    schedules,
)
from connectors.google_ads.reports import AccountState, Target, money_to_micros
from connectors.google_ads.transport import decode_failure, describe_errors
from connectors.new_ad_copy import tag_id
from connectors.records import AD_ROTATIONS, Mutation

# service -> (SDK method, operation type)
SERVICES: dict[str, tuple[str, str]] = {
    "CampaignBudgetService": ("mutate_campaign_budgets", "CampaignBudgetOperation"),
    "CampaignService": ("mutate_campaigns", "CampaignOperation"),
    "AdGroupService": ("mutate_ad_groups", "AdGroupOperation"),
    "AdGroupAdService": ("mutate_ad_group_ads", "AdGroupAdOperation"),
    "AdGroupCriterionService": ("mutate_ad_group_criteria", "AdGroupCriterionOperation"),
    "SharedSetService": ("mutate_shared_sets", "SharedSetOperation"),
    "SharedCriterionService": ("mutate_shared_criteria", "SharedCriterionOperation"),
    "CampaignSharedSetService": ("mutate_campaign_shared_sets", "CampaignSharedSetOperation"),
    **labels.SERVICES,
    **schedules.SERVICE,
    bid_modifiers.SERVICE: ("mutate_ad_group_bid_modifiers", "AdGroupBidModifierOperation"),
}
_STATUS_SERVICE = {"campaign": ("CampaignService", "status"), "ad_set": ("AdGroupService", "status"),
                   "ad": ("AdGroupAdService", "status"), "keyword": ("AdGroupCriterionService", "status")}
_MATCH_TYPES = ("EXACT", "PHRASE", "BROAD")
TAG_PARAMETER = "pmatag"  # the URL custom parameter that carries a new ad's exactly-once tag

# Responsive search ad limits (ResponsiveSearchAdInfo, API v26; https://support.google.com/google-ads/answer/7684791):
# (label, fewest, most, longest in characters, full-width characters counting as two).
RSA_LIMITS = (("headlines", 3, 15, 30), ("descriptions", 2, 4, 90))


def text_width(text: str) -> int:
    """Characters as Google counts them for ad text: full-width (CJK) characters count twice."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def check_rsa(headlines: Sequence[str], descriptions: Sequence[str], final_urls: Sequence[str]) -> None:
    """ValueError, in words, when a responsive search ad breaks Google's limits (checked before
    sending, so one bad draft costs no request and says what to fix)."""
    for (label, fewest, most, longest), items in zip(RSA_LIMITS, (headlines, descriptions), strict=True):
        if not fewest <= len(items) <= most:
            raise ValueError(f"a responsive search ad needs {fewest} to {most} {label}, got {len(items)}")
        for text in items:
            if text_width(text) > longest:
                raise ValueError(f"{label[:-1]} {text!r} is {text_width(text)} characters, over Google's {longest}")
    if not final_urls:
        raise ValueError("a responsive search ad needs a final URL (none in the proposal, and the ad group's "
                         "ads have none to reuse)")


@dataclass
class Operation:
    """One operation of a mutate request and the mutation (by batch index) it belongs to."""

    mutation_index: int
    operation: Any


@dataclass
class NegativeList:
    """Negative keywords for one campaign: the shared set to use (or to create first) and its link."""

    mutation_index: int
    campaign_id: str
    name: str
    keywords: list[tuple[str, str]]
    shared_set: str | None  # resource name, once known
    needs_link: bool


@dataclass
class Plan:
    requests: dict[str, list[Operation]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    refs: dict[int, str] = field(default_factory=dict)
    negatives: list[NegativeList] = field(default_factory=list)
    labels: list[labels.LabelLink] = field(default_factory=list)
    unknown: dict[int, str] = field(default_factory=dict)  # sent, no answer: may have been applied
    not_sent: dict[int, str] = field(default_factory=dict)  # stopped by the write guard before sending

    def open(self, index: int) -> bool:
        """Whether a mutation may still be sent (no error, no unknown outcome, not stopped)."""
        return not self.errors.get(index) and index not in self.unknown and index not in self.not_sent


def plan(client: Any, customer_id: str, currency: str, mutations: Sequence[Mutation],
         state: AccountState) -> Plan:
    """Operations for every mutation that can be expressed; the others get an error up front."""
    result = Plan()
    for index, mutation in enumerate(mutations):
        target = state.targets.get(mutation.entity_id)
        if target is None:
            result.errors[index].append(f"entity {mutation.entity_id} not found in customer {customer_id}")
            continue
        if target.level == pmax.TARGET_LEVEL:
            result.errors[index].append(pmax.refusal(mutation.kind, mutation.entity_id))
            continue
        try:
            _plan_one(client, customer_id, currency, index, mutation, target, state, result)
        except (ValueError, KeyError, InvalidOperation) as error:
            result.errors[index].append(f"{mutation.kind} on {mutation.entity_id}: {error}")
    return result


def _update(client: Any, service: str, resource_name: str, field_name: str, value: Any) -> Any:
    operation = client.get_type(SERVICES[service][1])
    setattr(operation.update, field_name, value)
    operation.update.resource_name = resource_name
    operation.update_mask = field_mask_pb2.FieldMask(paths=[field_name])
    return operation


def _plan_one(client: Any, customer_id: str, currency: str, index: int, mutation: Mutation, target: Target,
              state: AccountState, result: Plan) -> None:
    kind = mutation.kind
    if kind in ("pause", "enable"):
        service, field_name = _STATUS_SERVICE[target.level]
        enum_holder = {"campaign": "CampaignStatusEnum", "ad_set": "AdGroupStatusEnum",
                       "ad": "AdGroupAdStatusEnum", "keyword": "AdGroupCriterionStatusEnum"}[target.level]
        enum = getattr(client.enums, enum_holder)
        status = enum.PAUSED if kind == "pause" else enum.ENABLED
        result.requests[service].append(Operation(index, _update(client, service, target.resource_name,
                                                                  field_name, status)))
        result.refs[index] = target.resource_name
    elif kind == "set_budget":
        if target.level != "campaign" or not target.budget_resource:
            raise ValueError(f"budgets are set on campaigns in Google Ads, not on a {target.level}")
        micros = money_to_micros(Decimal(str(mutation.params["daily_budget"])), currency)
        if micros <= 0:
            raise ValueError("daily_budget must be positive")
        result.requests["CampaignBudgetService"].append(Operation(index, _update(
            client, "CampaignBudgetService", target.budget_resource, "amount_micros", micros)))
        result.refs[index] = target.budget_resource
    elif kind == "add_negative_keywords":
        _plan_negatives(client, customer_id, index, mutation, target, state, result)
    elif kind == "new_ad":
        _plan_new_ad(client, customer_id, index, mutation, target, result)
    elif kind == "set_ad_rotation":
        if target.level != "ad_set":
            raise ValueError(f"ad rotation is set on ad groups in Google Ads, not at the {target.level} level")
        mode = mutation.params.get("ad_rotation")
        if mode not in AD_ROTATIONS:
            raise ValueError(f"params.ad_rotation must be one of {', '.join(AD_ROTATIONS)}, got {mode!r}")
        rotation = getattr(client.enums.AdGroupAdRotationModeEnum, str(mode))
        result.requests["AdGroupService"].append(Operation(index, _update(
            client, "AdGroupService", target.resource_name, "ad_rotation_mode", rotation)))
        result.refs[index] = target.resource_name
    elif kind == "set_ad_schedule":
        schedules.plan_schedule(client, index, mutation, target, state, result.requests, result.refs, Operation)
    elif kind in ("add_label", "remove_label"):
        labels.plan_label(client, customer_id, index, mutation, target, state, result.requests, result.labels,
                          result.refs, Operation)
    elif kind == "set_device_bid_modifier":
        if target.level != "ad_set":
            raise ValueError(f"device bid modifiers are set on ad groups here, not on a {target.level}")
        device = str(mutation.params.get("segment", ""))
        fraction = mutation.params.get("bid_modifier")
        result.requests[bid_modifiers.SERVICE].append(Operation(index, bid_modifiers.operation(
            client, target.resource_name, device, None if fraction is None else float(fraction),
            state.bid_modifiers.get((mutation.entity_id, device)))))
        result.refs[index] = target.resource_name
    elif kind in demographics.EXCLUSION_KINDS:
        if target.level != "ad_set":
            raise ValueError(f"age ranges and genders are excluded on ad groups here, not on a {target.level}")
        dimension, segment = demographics.EXCLUSION_KINDS[kind], str(mutation.params.get("segment", ""))
        op = demographics.operation(client, target.resource_name, dimension, segment,
                                    bool(mutation.params.get("excluded", True)),
                                    state.demographics.get((mutation.entity_id, dimension, segment)))
        if op is None:  # the drift check supersedes such an action before it gets here
            raise ValueError(f"{dimension} {segment} is already {'excluded' if mutation.params.get('excluded', True) else 'included'}")
        result.requests[demographics.SERVICE].append(Operation(index, op))
        result.refs[index] = target.resource_name
    elif kind == locations.KIND:
        _plan_location(client, customer_id, index, mutation, target, state, result)
    elif kind in ("exclude_audience", "remove_audience_exclusion"):
        if target.level != "campaign":
            raise ValueError(f"audiences are excluded on Google campaigns (a user-list campaign criterion), "
                             f"not on a {target.level}")
        audience_id = str(mutation.params.get("audience_id", ""))
        result.requests[audience_exclusions.SERVICE].append(Operation(index, audience_exclusions.operation(
            client, customer_id, target.resource_name, target.channel, audience_id, kind == "exclude_audience",
            state.user_list_exclusions.get((mutation.entity_id, audience_id)))))
        result.refs[index] = target.resource_name
    else:
        raise ValueError(f"{kind} is not supported by Google Ads")


def _plan_location(client: Any, customer_id: str, index: int, mutation: Mutation, target: Target,
                   state: AccountState, result: Plan) -> None:
    """A region excluded on (or given back to) the ad group's campaign: locations are campaign criteria."""
    if target.level != "ad_set" or not target.campaign_id:
        raise ValueError(f"locations are excluded on the campaign of a search ad group here, not on a {target.level}")
    if str(mutation.params.get("dimension", locations.DIMENSION)) != locations.DIMENSION:
        raise ValueError(f"exclude_location excludes a region, not a {mutation.params.get('dimension')}")
    segment, excluded = str(mutation.params.get("segment", "")), bool(mutation.params.get("excluded", True))
    constants = sorted(state.campaign_geo_constants.get((target.campaign_id, segment))
                       or state.geo_constants.get(segment) or set())
    if len(constants) > 1:
        raise ValueError(f"region {segment!r} names several geo target constants ({', '.join(constants)})")
    campaign = f"customers/{customer_id}/campaigns/{target.campaign_id}"
    op = locations.operation(client, campaign, segment, constants[0] if constants else None, excluded,
                             state.locations.get((target.campaign_id, segment)))
    if op is None:  # the drift check supersedes such an action before it gets here
        raise ValueError(f"region {segment} is already {'excluded' if excluded else 'included'} on the campaign")
    result.requests[locations.SERVICE].append(Operation(index, op))
    result.refs[index] = campaign


def _plan_negatives(client: Any, customer_id: str, index: int, mutation: Mutation, target: Target,
                    state: AccountState, result: Plan) -> None:
    if target.level != "campaign":
        raise ValueError("negative keyword lists are attached to campaigns")
    keywords = []
    for keyword in mutation.params.get("keywords") or ():
        text = str(keyword.get("text", "")).strip() if isinstance(keyword, Mapping) else ""
        match_type = str(keyword.get("match_type", "")).upper() if isinstance(keyword, Mapping) else ""
        if not text or match_type not in _MATCH_TYPES:
            raise ValueError(f"each keyword needs text and match_type EXACT/PHRASE/BROAD, got {keyword!r}")
        keywords.append((text, match_type))
    if not keywords:
        raise ValueError("params.keywords must be a non-empty list")
    name = str(mutation.params.get("list_name") or f"agent-negatives-{mutation.entity_id}")
    existing = state.shared_sets.get(name)
    negative = NegativeList(index, mutation.entity_id, name, keywords, existing,
                            needs_link=existing is None or (mutation.entity_id, existing) not in state.linked)
    if existing is None:
        operation = client.get_type("SharedSetOperation")
        operation.create.name = name
        operation.create.type_ = client.enums.SharedSetTypeEnum.NEGATIVE_KEYWORDS
        result.requests["SharedSetService"].append(Operation(index, operation))
    result.negatives.append(negative)


def _plan_new_ad(client: Any, customer_id: str, index: int, mutation: Mutation, target: Target,
                 result: Plan) -> None:
    if target.level != "ad_set":
        raise ValueError("new ads are created in an ad group")
    params = mutation.params
    headlines = [str(h) for h in params.get("headlines") or [params.get("headline", "")] if str(h).strip()]
    descriptions = [str(d) for d in params.get("descriptions") or [params.get("description", "")] if str(d).strip()]
    final_urls = list(params.get("final_urls") or ([params["final_url"]] if params.get("final_url") else [])
                      or target.final_urls)
    check_rsa(headlines, descriptions, final_urls)
    operation = client.get_type("AdGroupAdOperation")
    ad_group_ad = operation.create
    ad_group_ad.ad_group = target.resource_name
    # New copy goes live only after a person looks at it, unless the caller asks otherwise.
    status = str(params.get("status", "PAUSED")).upper()
    ad_group_ad.status = getattr(client.enums.AdGroupAdStatusEnum, "ENABLED" if status == "ACTIVE" else "PAUSED")
    ad_group_ad.ad.final_urls.extend(final_urls)
    tag = client.get_type("CustomParameter")
    tag.key, tag.value = TAG_PARAMETER, tag_id(mutation.idempotency_key)
    ad_group_ad.ad.url_custom_parameters.append(tag)
    for text in headlines:
        asset = client.get_type("AdTextAsset")
        asset.text = text
        ad_group_ad.ad.responsive_search_ad.headlines.append(asset)
    for text in descriptions:
        asset = client.get_type("AdTextAsset")
        asset.text = text
        ad_group_ad.ad.responsive_search_ad.descriptions.append(asset)
    result.requests["AdGroupAdService"].append(Operation(index, operation))


def second_step(client: Any, customer_id: str, result: Plan, created_sets: Mapping[int, str],
                created_labels: Mapping[int, str] | None = None) -> dict[str, list[Operation]]:
    """Keyword and link operations for the negative lists whose shared set now exists, and the label
    links whose label now exists."""
    requests: dict[str, list[Operation]] = defaultdict(list)
    requests.update(labels.link_operations(client, result.labels, created_labels or {}, result.open, result.refs,
                                           Operation))
    for link in result.labels:  # a label another mutation was to create, and did not: nothing was sent
        if link.label is None and link.creator is not None and link.creator != link.mutation_index \
                and (created_labels or {}).get(link.creator) is None and result.open(link.mutation_index):
            if result.open(link.creator):  # validate_only: nothing created, nothing to attach
                continue
            result.not_sent[link.mutation_index] = (f"not sent: the label {link.name!r} was to be created with "
                                                    "another change, which did not complete; retried next time")
    for negative in result.negatives:
        shared_set = negative.shared_set or created_sets.get(negative.mutation_index)
        if shared_set is None or not result.open(negative.mutation_index):
            continue
        result.refs[negative.mutation_index] = shared_set
        for text, match_type in negative.keywords:
            operation = client.get_type("SharedCriterionOperation")
            operation.create.shared_set = shared_set
            operation.create.keyword.text = text
            operation.create.keyword.match_type = getattr(client.enums.KeywordMatchTypeEnum, match_type)
            requests["SharedCriterionService"].append(Operation(negative.mutation_index, operation))
        if negative.needs_link:
            operation = client.get_type("CampaignSharedSetOperation")
            operation.create.campaign = f"customers/{customer_id}/campaigns/{negative.campaign_id}"
            operation.create.shared_set = shared_set
            requests["CampaignSharedSetService"].append(Operation(negative.mutation_index, operation))
    return requests


def partial_failures(response: Any) -> dict[int, str]:
    """Operation index -> error text, decoded from `partial_failure_error.details[]` (each a
    GoogleAdsFailure whose errors point at `operations[i]`)."""
    status = response.partial_failure_error
    if status is None or not getattr(status, "code", 0):
        return {}
    by_index: dict[int, list[Any]] = defaultdict(list)
    for detail in status.details:
        failure = decode_failure(detail.value)
        for error in failure.errors:
            index = next((element.index for element in error.location.field_path_elements
                          if element.field_name == "operations"), -1)
            by_index[index].append(error)
    if -1 in by_index:  # an error that names no operation concerns them all
        unplaced = by_index.pop(-1)
        for position in range(len(response.results) or 1):
            by_index[position].extend(unplaced)
    return {index: describe_errors(errors) for index, errors in by_index.items()}
