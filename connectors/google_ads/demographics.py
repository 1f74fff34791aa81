"""Age range and gender exclusions of ad groups: negative ad group criteria, read with one GAQL
query and written through AdGroupCriterionService.

An excluded age range is an `AdGroupCriterion` with `negative` = true and an `AgeRangeInfo`
(`age_range.type`, AgeRangeTypeEnum: AGE_RANGE_18_24 ... AGE_RANGE_65_UP); a gender one has a
`GenderInfo` (`gender.type`, GenderTypeEnum: MALE, FEMALE). Its resource name is
`customers/{customer_id}/adGroupCriteria/{ad_group_id}~{criterion_id}`; an exclusion is taken back
by removing it (https://developers.google.com/google-ads/api/fields/latest/ad_group_criterion and
the demographic targeting guide, https://developers.google.com/google-ads/api/docs/targeting/criteria).
A negative criterion means the ad group never serves to that segment: the -100% Smart Bidding
honours. The `age_range_view` / `gender_view` breakdowns report the same segments
(connectors/segments.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SERVICE = "AdGroupCriterionService"
QUERY = ("SELECT ad_group.id, ad_group_criterion.resource_name, ad_group_criterion.type, "
         "ad_group_criterion.age_range.type, ad_group_criterion.gender.type FROM ad_group_criterion "
         "WHERE ad_group_criterion.negative = TRUE AND ad_group_criterion.type IN ('AGE_RANGE', 'GENDER') "
         "AND ad_group_criterion.status != 'REMOVED' AND ad_group.status != 'REMOVED'")
AGE_RANGES: dict[str, str] = {"18-24": "AGE_RANGE_18_24", "25-34": "AGE_RANGE_25_34", "35-44": "AGE_RANGE_35_44",
                              "45-54": "AGE_RANGE_45_54", "55-64": "AGE_RANGE_55_64", "65+": "AGE_RANGE_65_UP"}
GENDERS: dict[str, str] = {"male": "MALE", "female": "FEMALE"}
# our dimension -> (its enum values by our segment, the criterion field, the SDK enum); kind -> dimension
DIMENSIONS: dict[str, tuple[dict[str, str], str, str]] = {
    "age": (AGE_RANGES, "age_range", "AgeRangeTypeEnum"), "gender": (GENDERS, "gender", "GenderTypeEnum")}
EXCLUSION_KINDS: dict[str, str] = {"exclude_age_range": "age", "exclude_gender": "gender"}
_OURS = {(dimension, enum): ours for dimension, (values, _, _) in DIMENSIONS.items()
         for ours, enum in values.items()}


def read(rows: Iterable[Any]) -> tuple[dict[str, dict[str, list[str]]], dict[tuple[str, str, str], str]]:
    """({ad group id: {dimension: [excluded segment, ...]}}, {(ad group id, dimension, segment): resource})."""
    excluded: dict[str, dict[str, list[str]]] = {}
    resources: dict[tuple[str, str, str], str] = {}
    for row in rows:
        criterion = row.ad_group_criterion
        if criterion.type_.name == "AGE_RANGE":
            dimension, enum = "age", criterion.age_range.type_.name
        elif criterion.type_.name == "GENDER":
            dimension, enum = "gender", criterion.gender.type_.name
        else:
            continue
        segment = _OURS.get((dimension, enum))
        if segment is None:
            continue  # UNDETERMINED: a segment of ours called `unknown`, never excluded by the agent
        ad_group = str(row.ad_group.id)
        excluded.setdefault(ad_group, {}).setdefault(dimension, []).append(segment)
        resources[(ad_group, dimension, segment)] = criterion.resource_name
    return {g: {d: sorted(s) for d, s in found.items()} for g, found in excluded.items()}, resources


def operation(client: Any, ad_group_resource: str, dimension: str, segment: str, excluded: bool,
              existing: str | None) -> Any | None:
    """The AdGroupCriterionOperation that excludes `segment` (a negative criterion) or takes the
    exclusion back (removes it); None when it is already so. ValueError for what Google would refuse."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"no ad group exclusion for the dimension {dimension!r}")
    values, field_name, enum = DIMENSIONS[dimension]
    if segment not in values:
        raise ValueError(f"{dimension} {segment!r} cannot be excluded; known: {', '.join(values)}")
    if excluded == (existing is not None):
        return None
    op = client.get_type("AdGroupCriterionOperation")
    if not excluded:
        op.remove = existing
        return op
    op.create.ad_group = ad_group_resource
    op.create.negative = True
    getattr(op.create, field_name).type_ = getattr(getattr(client.enums, enum), values[segment])
    return op
