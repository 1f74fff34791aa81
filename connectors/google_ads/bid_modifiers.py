"""Device bid modifiers of ad groups: read with one GAQL query, written through
AdGroupBidModifierService.

An `AdGroupBidModifier` carries a `DeviceInfo` criterion (`device.type`) and `bid_modifier`, a
multiplier: 0.1 to 10.0, and 0 to opt the ad group out of that device, i.e. -100%; its resource
name is `customers/{customer_id}/adGroupBidModifiers/{ad_group_id}~{criterion_id}`
(https://developers.google.com/google-ads/api/fields/latest/ad_group_bid_modifier). Past the
connector a modifier is a fraction, as Google's interface shows it: -1.0 is -100%, 0.2 is +20%,
None is no modifier (the campaign's applies). Smart Bidding ignores device modifiers except -100%;
the policy proposes nothing milder (policies/segment_exclusions.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import field_mask_pb2

SERVICE = "AdGroupBidModifierService"
QUERY = ("SELECT ad_group.id, ad_group_bid_modifier.resource_name, ad_group_bid_modifier.device.type, "
         "ad_group_bid_modifier.bid_modifier FROM ad_group_bid_modifier WHERE ad_group.status != 'REMOVED'")
DEVICES: dict[str, str] = {"mobile": "MOBILE", "desktop": "DESKTOP", "tablet": "TABLET", "tv": "CONNECTED_TV"}
_OURS = {name: ours for ours, name in DEVICES.items()}
OPT_OUT = 0.0  # Google's multiplier for -100%
LOWEST, HIGHEST = 0.1, 10.0  # any other multiplier must lie here


def read(rows: Iterable[Any]) -> tuple[dict[str, dict[str, float]], dict[tuple[str, str], str]]:
    """({ad group id: {device: fraction}}, {(ad group id, device): resource name}) from the query's rows."""
    modifiers: dict[str, dict[str, float]] = {}
    resources: dict[tuple[str, str], str] = {}
    for row in rows:
        device = _OURS.get(row.ad_group_bid_modifier.device.type_.name)
        if device is None:
            continue  # not a device modifier (or a device we do not name)
        ad_group = str(row.ad_group.id)
        modifiers.setdefault(ad_group, {})[device] = round(float(row.ad_group_bid_modifier.bid_modifier) - 1.0, 6)
        resources[(ad_group, device)] = row.ad_group_bid_modifier.resource_name
    return modifiers, resources


def attributes(modifiers: Mapping[str, float]) -> dict[str, Any]:
    """An ad group's device modifiers as entity attributes: the fractions, and the devices cut (-100%)."""
    return {"device_bid_modifiers": dict(modifiers),
            "excluded_segments": {"device": sorted(d for d, m in modifiers.items() if m <= -1.0)}}


def operation(client: Any, ad_group_resource: str, device: str, fraction: float | None,
              existing: str | None) -> Any:
    """The AdGroupBidModifierOperation that sets the ad group's modifier for `device` to `fraction`
    (None: removes it); ValueError for what Google would refuse."""
    if device not in DEVICES:
        raise ValueError(f"no device {device!r}; known: {', '.join(DEVICES)}")
    op = client.get_type("AdGroupBidModifierOperation")
    if fraction is None:
        if existing is None:
            raise ValueError(f"the ad group has no {device} bid modifier to remove")
        op.remove = existing
        return op
    multiplier = round(1.0 + float(fraction), 6)
    if multiplier != OPT_OUT and not LOWEST <= multiplier <= HIGHEST:
        raise ValueError(f"bid modifier {fraction:+.0%} is outside -100% and -90% .. +900%")
    if existing is not None:
        op.update.resource_name = existing
        op.update.bid_modifier = multiplier
        op.update_mask = field_mask_pb2.FieldMask(paths=["bid_modifier"])
        return op
    op.create.ad_group = ad_group_resource
    op.create.device.type_ = getattr(client.enums.DeviceEnum, DEVICES[device])
    op.create.bid_modifier = multiplier
    return op
