"""LinkedIn targeting exclusions in our segment names: company size, seniority, industry and job
function, read
from and written to the `exclude` part of a campaign's targetingCriteria.

A targetingCriteria has one `include` ("and" of "or" groups) and one `exclude` with a single "or"
of facets (https://learn.microsoft.com/en-us/linkedin/shared/references/v2/ads/targeting-criteria).
Each dimension is one facet (the targetingCriteria facet URNs of the Ad Targeting page,
https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/advertising-targeting/ads-targeting):

- company size: `urn:li:adTargetingFacet:staffCountRanges`, values `urn:li:staffCountRange:(11,50)`,
  the top one open ended as `(10001,2147483647)`;
- seniority: `urn:li:adTargetingFacet:seniorities`, values `urn:li:seniority:5` (the ten
  standardized seniorities, connectors/segments.py names them);
- industry: `urn:li:adTargetingFacet:industries`, values `urn:li:industry:4` (the industries we name,
  and any other as `industry-<id>`, the analytics pivot's name for it);
- job function: `urn:li:adTargetingFacet:jobFunctions`, values `urn:li:function:8` (the 26
  standardized job functions, connectors/segments.py names them; 8 = engineering).

The analytics pivots MEMBER_COMPANY_SIZE, MEMBER_SENIORITY, MEMBER_INDUSTRY and MEMBER_JOB_FUNCTION
report the same
segments (connectors/segments.py), so what is cut is what was measured.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from connectors.segments import INDUSTRIES, JOB_FUNCTIONS, SENIORITIES

STAFF_COUNT_FACET = "urn:li:adTargetingFacet:staffCountRanges"
SENIORITY_FACET = "urn:li:adTargetingFacet:seniorities"
INDUSTRY_FACET = "urn:li:adTargetingFacet:industries"
JOB_FUNCTION_FACET = "urn:li:adTargetingFacet:jobFunctions"
STAFF_COUNT_RANGES: dict[str, str] = {
    "1": "urn:li:staffCountRange:(1,1)", "2-10": "urn:li:staffCountRange:(2,10)",
    "11-50": "urn:li:staffCountRange:(11,50)", "51-200": "urn:li:staffCountRange:(51,200)",
    "201-500": "urn:li:staffCountRange:(201,500)", "501-1000": "urn:li:staffCountRange:(501,1000)",
    "1001-5000": "urn:li:staffCountRange:(1001,5000)", "5001-10000": "urn:li:staffCountRange:(5001,10000)",
    "10001+": "urn:li:staffCountRange:(10001,2147483647)",
}
_SIZE_OF = {urn: segment for segment, urn in STAFF_COUNT_RANGES.items()}
_SENIORITY_ID = {name: number for number, name in SENIORITIES.items()}
_INDUSTRY_ID = {name: number for number, name in INDUSTRIES.items()}
_FUNCTION_ID = {name: number for number, name in JOB_FUNCTIONS.items()}
# our dimension -> its facet; the action kind that excludes it
FACETS: dict[str, str] = {"company_size": STAFF_COUNT_FACET, "seniority": SENIORITY_FACET,
                          "industry": INDUSTRY_FACET, "job_function": JOB_FUNCTION_FACET}
EXCLUSION_KINDS: dict[str, str] = {"exclude_company_size": "company_size", "exclude_seniority": "seniority",
                                   "exclude_industry": "industry", "exclude_job_function": "job_function"}


def value_urn(dimension: str, segment: str) -> str:
    """The facet value of one of our segments; ValueError for one LinkedIn does not target."""
    if dimension == "company_size" and segment in STAFF_COUNT_RANGES:
        return STAFF_COUNT_RANGES[segment]
    if dimension == "seniority" and segment in _SENIORITY_ID:
        return f"urn:li:seniority:{_SENIORITY_ID[segment]}"
    if dimension == "job_function" and segment in _FUNCTION_ID:
        return f"urn:li:function:{_FUNCTION_ID[segment]}"
    if dimension == "industry":
        match = re.fullmatch(r"industry-(\d+)", segment)
        number = _INDUSTRY_ID.get(segment) or (int(match.group(1)) if match else None)
        if number is not None:
            return f"urn:li:industry:{number}"
    known = {"company_size": ", ".join(STAFF_COUNT_RANGES), "seniority": ", ".join(_SENIORITY_ID),
             "industry": ", ".join([*_INDUSTRY_ID, "industry-<id>"]),
             "job_function": ", ".join(_FUNCTION_ID)}.get(dimension)
    if known is None:
        raise ValueError(f"LinkedIn has no targeting exclusion for the dimension {dimension!r}")
    raise ValueError(f"{dimension.replace('_', ' ')} {segment!r} cannot be targeted; known: {known}")


def segment_of(dimension: str, urn: str) -> str | None:
    """Our name of a facet value, or None when it is none of ours."""
    if dimension == "company_size":
        return _SIZE_OF.get(urn)
    match = re.fullmatch(r"urn:li:(seniority|industry|function):(\d+)", urn)
    if match is None or match.group(1) != {"job_function": "function"}.get(dimension, dimension):
        return None
    number = int(match.group(2))
    if dimension == "seniority":
        return SENIORITIES.get(number)
    if dimension == "job_function":
        return JOB_FUNCTIONS.get(number)
    return INDUSTRIES.get(number, f"industry-{number}")


def excluded(criteria: Mapping[str, Any] | None, dimension: str) -> list[str]:
    """Our segments of `dimension` under the criteria's `exclude`."""
    facets = ((criteria or {}).get("exclude") or {}).get("or") or {}
    found = (segment_of(dimension, str(urn)) for urn in facets.get(FACETS[dimension], []))
    return sorted(s for s in found if s is not None)


def excluded_segments(criteria: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """{dimension: excluded segments} for every dimension the agent can exclude."""
    return {dimension: excluded(criteria, dimension) for dimension in FACETS}


def with_exclusion(criteria: Mapping[str, Any], dimension: str, segment: str, exclude_it: bool) -> dict[str, Any]:
    """The criteria with `segment` added to (`exclude_it`) or taken out of the exclusions of its facet;
    every other facet and the `include` part are kept as they are."""
    urn = value_urn(dimension, segment)
    facet = FACETS[dimension]
    updated = copy.deepcopy(dict(criteria))
    exclude = dict(updated.get("exclude") or {})
    facets = dict(exclude.get("or") or {})
    values = [v for v in facets.get(facet, []) if v != urn] + ([urn] if exclude_it else [])
    if values:
        facets[facet] = values
    else:
        facets.pop(facet, None)
    if facets:
        updated["exclude"] = {**exclude, "or": facets}
    else:
        updated.pop("exclude", None)
    return updated


def excluded_company_sizes(criteria: Mapping[str, Any] | None) -> list[str]:
    return excluded(criteria, "company_size")


def with_company_size(criteria: Mapping[str, Any], segment: str, exclude_it: bool) -> dict[str, Any]:
    return with_exclusion(criteria, "company_size", segment, exclude_it)
