"""Company sizes in a LinkedIn campaign's targetingCriteria: our `company_size` segments as
`urn:li:adTargetingFacet:staffCountRanges` values, read from and written to its `exclude` part.

A targetingCriteria has one `include` ("and" of "or" groups) and one `exclude` with a single "or"
of facets (https://learn.microsoft.com/en-us/linkedin/shared/references/v2/ads/targeting-criteria).
Company-size values are numeric range URNs, `urn:li:staffCountRange:(11,50)`, the top one open
ended as `(10001,2147483647)`; the analytics pivot MEMBER_COMPANY_SIZE names the same bands
(connectors/segments.py).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

STAFF_COUNT_FACET = "urn:li:adTargetingFacet:staffCountRanges"
STAFF_COUNT_RANGES: dict[str, str] = {
    "1": "urn:li:staffCountRange:(1,1)", "2-10": "urn:li:staffCountRange:(2,10)",
    "11-50": "urn:li:staffCountRange:(11,50)", "51-200": "urn:li:staffCountRange:(51,200)",
    "201-500": "urn:li:staffCountRange:(201,500)", "501-1000": "urn:li:staffCountRange:(501,1000)",
    "1001-5000": "urn:li:staffCountRange:(1001,5000)", "5001-10000": "urn:li:staffCountRange:(5001,10000)",
    "10001+": "urn:li:staffCountRange:(10001,2147483647)",
}
_SEGMENT_OF = {urn: segment for segment, urn in STAFF_COUNT_RANGES.items()}


def excluded_company_sizes(criteria: Mapping[str, Any] | None) -> list[str]:
    """Our company-size segments under the criteria's `exclude`."""
    facets = ((criteria or {}).get("exclude") or {}).get("or") or {}
    return sorted(_SEGMENT_OF[urn] for urn in facets.get(STAFF_COUNT_FACET, []) if urn in _SEGMENT_OF)


def with_company_size(criteria: Mapping[str, Any], segment: str, excluded: bool) -> dict[str, Any]:
    """The criteria with `segment` added to (`excluded`) or taken out of the exclusions; ValueError
    for a size LinkedIn does not target."""
    if segment not in STAFF_COUNT_RANGES:
        raise ValueError(f"company size {segment!r} cannot be targeted; known: {', '.join(STAFF_COUNT_RANGES)}")
    urn = STAFF_COUNT_RANGES[segment]
    updated = copy.deepcopy(dict(criteria))
    exclude = dict(updated.get("exclude") or {})
    facets = dict(exclude.get("or") or {})
    values = [v for v in facets.get(STAFF_COUNT_FACET, []) if v != urn] + ([urn] if excluded else [])
    if values:
        facets[STAFF_COUNT_FACET] = values
    else:
        facets.pop(STAFF_COUNT_FACET, None)
    if facets:
        updated["exclude"] = {**exclude, "or": facets}
    else:
        updated.pop("exclude", None)
    return updated
