"""Negative age range and gender ad group criteria in the fake Google Ads API: `FROM
ad_group_criterion WHERE ad_group_criterion.negative = TRUE` rows and AdGroupCriterionService
create / remove operations, answered from the simulator's ad groups.

Following the AdGroupCriterion reference (https://developers.google.com/google-ads/api/fields/latest/ad_group_criterion):
the resource name is `customers/{customer_id}/adGroupCriteria/{ad_group_id}~{criterion_id}`; age
ranges and genders have fixed criterion ids (AGE_RANGE_18_24 503001 .. AGE_RANGE_65_UP 503006,
MALE 10, FEMALE 11); a criterion of the same ad group and value cannot be created twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.records import Entity

CRITERIA: dict[str, dict[str, tuple[str, int]]] = {
    "age": {"18-24": ("AGE_RANGE_18_24", 503001), "25-34": ("AGE_RANGE_25_34", 503002),
            "35-44": ("AGE_RANGE_35_44", 503003), "45-54": ("AGE_RANGE_45_54", 503004),
            "55-64": ("AGE_RANGE_55_64", 503005), "65+": ("AGE_RANGE_65_UP", 503006)},
    "gender": {"male": ("MALE", 10), "female": ("FEMALE", 11)},
}
_KIND = {"age": "exclude_age_range", "gender": "exclude_gender"}
_BY_ID = {str(criterion): (dimension, segment) for dimension, values in CRITERIA.items()
          for segment, (_, criterion) in values.items()}


def is_demographic_query(query: str) -> bool:
    return "negative = TRUE" in query


def resource(customer: str, ad_group_id: int, dimension: str, segment: str) -> str:
    return f"customers/{customer}/adGroupCriteria/{ad_group_id}~{CRITERIA[dimension][segment][1]}"


def rows(entities: list[Entity], customer: str, numeric: Callable[[str], int], new_row: Callable[[], Any]) -> list[Any]:
    found = []
    for entity in entities:
        if entity.level != "ad_set":
            continue
        for dimension in ("age", "gender"):
            for segment in sorted((entity.attributes.get("excluded_segments") or {}).get(dimension, [])):
                if segment not in CRITERIA[dimension]:
                    continue
                row = new_row()
                row.ad_group.id = numeric(entity.entity_id)
                criterion = row.ad_group_criterion
                criterion.resource_name = resource(customer, row.ad_group.id, dimension, segment)
                criterion.type_ = "AGE_RANGE" if dimension == "age" else "GENDER"
                criterion.negative = True
                if dimension == "age":
                    criterion.age_range.type_ = CRITERIA[dimension][segment][0]
                else:
                    criterion.gender.type_ = CRITERIA[dimension][segment][0]
                found.append(row)
    return found


def translate(operation: Any, customer: str, sim_id: Callable[[str, int], str], entities: dict[str, Entity]
              ) -> tuple[str, tuple[str, str, dict[str, Any]]]:
    """(resource name, simulator mutation) for one create / remove; ValueError if Google refuses it."""
    if "create" in operation:
        create = operation.create
        if not create.negative:
            raise ValueError("only negative (excluding) age range and gender criteria are supported here")
        if "age_range" in create:
            dimension, name = "age", create.age_range.type_.name
        elif "gender" in create:
            dimension, name = "gender", create.gender.type_.name
        else:
            raise ValueError("unsupported criterion")
        segment = next((s for s, (enum, _) in CRITERIA[dimension].items() if enum == name), None)
        if segment is None:
            raise ValueError(f"unsupported {dimension} {name}")
        ad_set = sim_id(create.ad_group, -1)
        if segment in (entities[ad_set].attributes.get("excluded_segments") or {}).get(dimension, []):
            raise ValueError(f"DUPLICATE_CRITERION: {name} is already excluded on {create.ad_group}")
        name_ = resource(customer, int(create.ad_group.rsplit("/", 1)[-1]), dimension, segment)
        return name_, (_KIND[dimension], ad_set, {"dimension": dimension, "segment": segment, "excluded": True})
    name_ = operation.remove
    found = _BY_ID.get(name_.rsplit("~", 1)[-1])
    ad_set = sim_id(name_, 0)
    if found is None or found[1] not in (entities[ad_set].attributes.get("excluded_segments") or {}).get(found[0], []):
        raise ValueError(f"resource {name_} not found")
    dimension, segment = found
    return name_, (_KIND[dimension], ad_set, {"dimension": dimension, "segment": segment, "excluded": False})
