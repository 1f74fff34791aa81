"""Ad set schedules in the fake Graph API, as the Marketing API describes them: `adset_schedule`
(entries `{start_minute, end_minute, days, timezone_type}`, exact hours, at least an hour, days 0..6)
is accepted only on an ad set with a lifetime budget and `pacing_type: ["day_parting"]`; an empty one
with `pacing_type: ["standard"]` clears it. Which simulated ad sets have a lifetime budget (and no daily
one) is the test's choice (`FakeMeta.lifetime_ad_sets`); their schedules are kept here, since the
simulator's ad sets all have daily budgets.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.records import Entity, minor_unit_exponent


def report(fake: Any, entity: Entity, raw: dict[str, Any]) -> None:
    """An ad set's budget and schedule fields as Graph shows them."""
    lifetime = fake.lifetime_ad_sets.get(entity.entity_id)
    if lifetime is None:
        return
    raw.pop("daily_budget", None)
    raw["lifetime_budget"] = str(int(lifetime.scaleb(minor_unit_exponent(entity.currency))))
    schedule = fake.adset_schedules.get(entity.entity_id, [])
    raw["adset_schedule"] = schedule
    raw["pacing_type"] = ["day_parting"] if schedule else ["standard"]


def update(fake: Any, entity: Entity, params: dict[str, str]) -> None:
    """`adset_schedule` (and `pacing_type`) in an ad set update; the fake's GraphError when refused."""
    if entity.entity_id not in fake.lifetime_ad_sets:
        raise fake.graph_error(100, "Invalid parameter: ad scheduling needs a lifetime budget; this ad set has a "
                                    "daily budget", 1885621)
    try:
        entries = json.loads(params["adset_schedule"])
        pacing = json.loads(params.get("pacing_type", "[]"))
    except ValueError:
        raise fake.graph_error(100, "Invalid parameter: adset_schedule must be a JSON list") from None
    if not isinstance(entries, list) or not isinstance(pacing, list):
        raise fake.graph_error(100, "Invalid parameter: adset_schedule must be a JSON list")
    if entries and "day_parting" not in pacing:
        raise fake.graph_error(100, "Invalid parameter: an ad set schedule needs pacing_type day_parting")
    for entry in entries:
        start, end, days = entry.get("start_minute"), entry.get("end_minute"), entry.get("days")
        if (not isinstance(start, int) or not isinstance(end, int) or start % 60 or end % 60
                or not 0 <= start < end <= 1440 or end - start < 60
                or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days)):
            raise fake.graph_error(100, f"Invalid parameter: bad adset_schedule entry {entry!r}")
    fake.adset_schedules[entity.entity_id] = entries
