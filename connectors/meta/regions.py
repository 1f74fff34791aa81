"""Region exclusions in a Meta ad set's targeting: `excluded_geo_locations.regions`, a list of
`{"key": ...}` with Meta's region keys (read back with their `name`), found by name through the
Targeting Search (`GET /search?type=adgeolocation&location_types=["region"]&q=...&country_code=..`;
https://developers.facebook.com/docs/marketing-api/audiences/reference/basic-targeting, "Location").

Our region segments are the insights `region` breakdown's names as slugs (connectors/segments.py):
a search result is the region when its name has the same slug. Under `region` Meta reports no
off-Meta conversions (a "Type 1" breakdown), so region exclusions can only be judged where the
region rows carry conversions (policies/segment_exclusions.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.segments import region


def _excluded_entries(targeting: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in (targeting.get("excluded_geo_locations") or {}).get("regions") or ()
            if isinstance(r, Mapping)]


def excluded_regions(targeting: Mapping[str, Any]) -> list[str]:
    """Our region segments the targeting excludes (entries read back with their name)."""
    return sorted({region(str(r.get("name"))) for r in _excluded_entries(targeting) if r.get("name")})


def excluded_key(targeting: Mapping[str, Any], segment: str) -> str | None:
    """Meta's key of an excluded region of ours, or None when it is not excluded."""
    return next((str(r["key"]) for r in _excluded_entries(targeting)
                 if r.get("name") and region(str(r["name"])) == segment and r.get("key") is not None), None)


def search_params(segment: str, country: str | None) -> dict[str, str]:
    """Targeting Search parameters that find one of our region segments."""
    params = {"type": "adgeolocation", "location_types": json.dumps(["region"]), "q": segment.replace("-", " ")}
    if country:
        params["country_code"] = country
    return params


def pick(results: Iterable[Mapping[str, Any]], segment: str) -> tuple[str, str] | None:
    """(key, name) of the search result that is our region segment, or None."""
    return next(((str(r["key"]), str(r.get("name"))) for r in results
                 if r.get("type", "region") == "region" and r.get("key") is not None
                 and region(str(r.get("name") or "")) == segment), None)


def with_region(targeting: Mapping[str, Any], key: str, name: str, excluded: bool) -> dict[str, Any]:
    """`targeting` with region `key` added to (`excluded`) or taken out of `excluded_geo_locations`;
    everything else as read. ValueError when the region is also what the ad set targets."""
    included = {str(r.get("key")) for r in (targeting.get("geo_locations") or {}).get("regions") or ()
                if isinstance(r, Mapping)}
    if excluded and key in included:
        raise ValueError(f"region {name} is targeted by the ad set: Meta cannot both target and exclude it")
    updated = copy.deepcopy(dict(targeting))
    geo = dict(updated.get("excluded_geo_locations") or {})
    entries = [{"key": str(r["key"])} for r in _excluded_entries(targeting) if str(r.get("key")) != key]
    entries += [{"key": key}] if excluded else []
    if entries:
        geo["regions"] = entries
    else:
        geo.pop("regions", None)
    if geo:
        updated["excluded_geo_locations"] = geo
    else:
        updated.pop("excluded_geo_locations", None)
    return updated
