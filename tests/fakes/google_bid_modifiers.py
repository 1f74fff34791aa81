"""Ad group device bid modifiers in the fake Google Ads API: `FROM ad_group_bid_modifier` rows and
AdGroupBidModifierService operations, answered from the simulator's ad groups.

Following the AdGroupBidModifier reference (https://developers.google.com/google-ads/api/fields/latest/ad_group_bid_modifier):
the resource name is `customers/{customer_id}/adGroupBidModifiers/{ad_group_id}~{criterion_id}`,
`bid_modifier` is a multiplier in 0.1 .. 10.0 or 0 to opt out of a device; the device criteria
have the fixed ids DESKTOP 30000, MOBILE 30001, TABLET 30002, CONNECTED_TV 30004.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.records import Entity

CRITERIA = {"desktop": ("DESKTOP", 30000), "mobile": ("MOBILE", 30001), "tablet": ("TABLET", 30002),
            "tv": ("CONNECTED_TV", 30004)}
_BY_NAME = {name: device for device, (name, _) in CRITERIA.items()}
_BY_ID = {str(criterion): device for device, (_, criterion) in CRITERIA.items()}


def resource(customer: str, ad_group_id: int, device: str) -> str:
    return f"customers/{customer}/adGroupBidModifiers/{ad_group_id}~{CRITERIA[device][1]}"


def rows(entities: list[Entity], customer: str, numeric: Callable[[str], int], new_row: Callable[[], Any]) -> list[Any]:
    found = []
    for entity in entities:
        if entity.level != "ad_set":
            continue
        for device, fraction in sorted((entity.attributes.get("device_bid_modifiers") or {}).items()):
            row = new_row()
            row.ad_group.id = numeric(entity.entity_id)
            row.ad_group_bid_modifier.resource_name = resource(customer, row.ad_group.id, device)
            row.ad_group_bid_modifier.device.type_ = CRITERIA[device][0]
            row.ad_group_bid_modifier.bid_modifier = round(1.0 + float(fraction), 6)
            found.append(row)
    return found


def _fraction(multiplier: float) -> float:
    if multiplier != 0.0 and not 0.1 <= multiplier <= 10.0:
        raise ValueError(f"bid_modifier {multiplier} is outside 0.1 .. 10.0 (or 0 to opt out)")
    return round(multiplier - 1.0, 6)


def translate(operation: Any, customer: str, sim_id: Callable[[str, int], str], entities: dict[str, Entity]
              ) -> tuple[str, tuple[str, str, dict[str, Any]]]:
    """(resource name, simulator mutation) for one AdGroupBidModifierOperation; ValueError if Google refuses it."""
    if "create" in operation:
        create = operation.create
        device = _BY_NAME.get(create.device.type_.name)
        if device is None:
            raise ValueError(f"unsupported device {create.device.type_.name}")
        ad_set = sim_id(create.ad_group, -1)
        if device in (entities[ad_set].attributes.get("device_bid_modifiers") or {}):
            raise ValueError(f"a {device} bid modifier already exists on {create.ad_group}")
        name = resource(customer, int(create.ad_group.rsplit("/", 1)[-1]), device)
        return name, ("set_device_bid_modifier", ad_set, {"dimension": "device", "segment": device,
                                                          "bid_modifier": _fraction(create.bid_modifier)})
    if "update" in operation:
        if list(operation.update_mask.paths) != ["bid_modifier"]:
            raise ValueError(f"unsupported update mask {list(operation.update_mask.paths)}")
        name = operation.update.resource_name
        fraction: float | None = _fraction(operation.update.bid_modifier)
    else:
        name, fraction = operation.remove, None
    device = _BY_ID.get(name.rsplit("~", 1)[-1])
    ad_set = sim_id(name, 0)
    if device is None or device not in (entities[ad_set].attributes.get("device_bid_modifiers") or {}):
        raise ValueError(f"resource {name} not found")
    return name, ("set_device_bid_modifier", ad_set, {"dimension": "device", "segment": device,
                                                      "bid_modifier": fraction})
