"""Insights breakdowns of the fake Graph API, from the simulator's segments.

As Meta answers them (https://developers.facebook.com/docs/marketing-api/insights/breakdowns):
- each row carries its breakdown values as keys (`age`, `gender`, `region`, `publisher_platform`,
  `platform_position`, `device_platform`);
- only some combinations are valid; others answer error #100 naming the invalid combination, and
  `platform_position` without `publisher_platform` is refused;
- under `region` (a "Type 1" breakdown) off-Meta actions are not returned: no `actions` or
  `action_values` in region rows.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.records import MetricRow
from connectors.simulator.segments import Exclusions, split_row

VALID = {("age",), ("gender",), ("age", "gender"), ("region",), ("country",), ("publisher_platform",),
         ("publisher_platform", "platform_position"), ("publisher_platform", "platform_position", "device_platform"),
         ("device_platform",), ("impression_device",), ("publisher_platform", "impression_device")}
# the simulator's dimension behind each breakdown, and how Meta spells each segment
_DIMENSION = {"age": "age", "gender": "gender", "region": "region", "device_platform": "device",
              "publisher_platform": "placement"}
_PLACEMENT = {"facebook_feed": ("facebook", "feed"), "instagram_feed": ("instagram", "feed"),
              "instagram_stories": ("instagram", "instagram_stories"), "facebook_reels": ("facebook", "facebook_reels"),
              "audience_network_classic": ("audience_network", "an_classic")}
_DEVICE = {"mobile": "mobile_app", "desktop": "desktop", "tablet": "mobile_web"}


class InvalidBreakdown(ValueError):
    pass


def requested(params: dict[str, str]) -> tuple[str, ...]:
    raw = params.get("breakdowns") or ""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw.split(",")
    return tuple(str(v).strip() for v in ([value] if isinstance(value, str) else value) if str(v).strip())


def check(breakdowns: tuple[str, ...]) -> None:
    if "platform_position" in breakdowns and "publisher_platform" not in breakdowns:
        raise InvalidBreakdown("(#100) platform_position breakdown requires publisher_platform")
    if tuple(breakdowns) not in VALID:
        raise InvalidBreakdown(f"(#100) Current combination of data breakdown columns "
                               f"({', '.join(('action_type',) + breakdowns)}) is invalid")


def region_name(slug: str) -> str:
    return " ".join(word.capitalize() for word in slug.split("-"))


def breakdown_keys(breakdowns: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for name, segment in zip([b for b in breakdowns if b != "platform_position"], segments, strict=True):
        if name == "publisher_platform":
            keys["publisher_platform"], keys["platform_position"] = _PLACEMENT[segment]
        elif name == "device_platform":
            keys[name] = _DEVICE[segment]
        elif name == "region":
            keys[name] = region_name(segment)
        else:
            keys[name] = segment
    return keys


def dimensions(breakdowns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_DIMENSION[b] for b in breakdowns if b != "platform_position")


def rows(metrics: list[MetricRow], breakdowns: tuple[str, ...], seed: int, base_row: Any, actions: Any,
         excluded: Exclusions | None = None) -> list[Any]:
    """`base_row(metric)` gives the row's ids and dates; `actions(conversions, value, clicks)` its actions."""
    found = []
    for metric in metrics:
        for piece in split_row(seed, metric, dimensions(breakdowns), excluded):
            row = base_row(metric)
            row.update(breakdown_keys(breakdowns, piece.segments))
            row.update({"spend": str(piece.spend), "impressions": str(piece.impressions), "clicks": str(piece.clicks)})
            if piece.conversions and "region" not in breakdowns:
                row["actions"], row["action_values"] = actions(piece.conversions, piece.conversion_value, piece.clicks)
            found.append(row)
    return found
