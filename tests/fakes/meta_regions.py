"""Meta's region keys as the fake Graph API knows them: the Targeting Search for `adgeolocation`
regions, and `excluded_geo_locations.regions` written by key and read back with names
(https://developers.facebook.com/docs/marketing-api/audiences/reference/basic-targeting, "Location").

Every simulated region (connectors/simulator/segments.py REGIONS) has a fixed numeric key; names
are the ones the `region` breakdown reports (tests/fakes/meta_breakdowns.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors.segments import region
from connectors.simulator.segments import REGIONS
from tests.fakes.meta_breakdowns import region_name

_COUNTRY = {"USD": "US", "EUR": "DE", "GBP": "GB", "JPY": "JP"}
# key -> (our slug, Meta's name, country code)
KEYS: dict[str, tuple[str, str, str]] = {
    str(3000 + i): (slug, region_name(slug), _COUNTRY.get(currency, "US"))
    for i, (currency, slug) in enumerate((c, s) for c, slugs in sorted(REGIONS.items()) for s in slugs)}
_KEY_OF = {slug: key for key, (slug, _, _) in KEYS.items()}


def search(params: Mapping[str, str]) -> dict[str, Any]:
    """GET /search?type=adgeolocation&location_types=["region"]&q=..&country_code=.."""
    if params.get("type") != "adgeolocation":
        return {"data": []}
    types = json.loads(params.get("location_types") or '["country", "region", "city"]')
    wanted = region(params.get("q", ""))
    country = params.get("country_code")
    found = [{"key": key, "name": name, "type": "region", "country_code": code, "supports_region": True,
              "supports_city": True}
             for key, (slug, name, code) in KEYS.items()
             if "region" in types and wanted in slug and (country is None or country == code)]
    return {"data": found}


def render(targeting: dict[str, Any], excluded: list[str]) -> None:
    """Write the simulated ad set's excluded regions into its targeting as Meta reads them back."""
    entries = [{"key": _KEY_OF[s], "name": KEYS[_KEY_OF[s]][1], "country": KEYS[_KEY_OF[s]][2]}
               for s in excluded if s in _KEY_OF]
    if entries:
        targeting["excluded_geo_locations"] = {"regions": entries}


def named(targeting: Mapping[str, Any]) -> dict[str, Any]:
    """A written targeting (regions by key only) with the names Meta would read back; an unknown key
    is refused as Meta refuses it."""
    entries = (targeting.get("excluded_geo_locations") or {}).get("regions") or []
    for entry in entries:
        if str(entry.get("key")) not in KEYS:
            raise ValueError(f"Invalid region key {entry.get('key')!r}")
    return {**targeting, "excluded_geo_locations": {"regions": [
        {"key": str(e["key"]), "name": KEYS[str(e["key"])][1]} for e in entries]}}
