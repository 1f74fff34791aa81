"""Meta ad set schedules (`adset_schedule`): read into hour blocks, and written by `set_ad_schedule`.

An ad set's `adset_schedule` lists when it delivers: entries `{start_minute, end_minute, days,
timezone_type}` (minutes after midnight on exact hours, at least an hour long; days 0..6 with 0 =
Sunday). Meta takes it only on an ad set with a lifetime budget and `pacing_type: ["day_parting"]`
(Marketing API reference, Ad Set: `adset_schedule`, `pacing_type`; the ad scheduling guide). There is no
bid modifier: a block is delivery on, an hour outside every block is off. An empty schedule with
`pacing_type: ["standard"]` delivers around the clock again (what undo writes back).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

META_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # Meta's day numbers: 0 = Sunday


def blocks_of(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An ad set's `adset_schedule` as hour blocks (modifier 1.0: Meta only switches delivery on)."""
    found = raw.get("adset_schedule") or []
    blocks = []
    for entry in found if isinstance(found, list) else []:
        start, end = int(entry.get("start_minute", 0)) // 60, math.ceil(int(entry.get("end_minute", 0)) / 60)
        for day in entry.get("days") or []:
            blocks.append({"day": META_DAYS[int(day) % 7], "start_hour": start, "end_hour": min(end, 24),
                           "bid_modifier": 1.0})
    return blocks


def schedule_params(blocks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ad set update writing `blocks`; ValueError for what Meta cannot express (a bid modifier)."""
    by_hours: dict[tuple[int, int], list[int]] = defaultdict(list)
    for block in blocks:
        if float(block.get("bid_modifier", 1.0)) != 1.0:
            raise ValueError("Meta ad set schedules have no bid modifier: only hours on (1.0) or off (absent)")
        if block.get("day") not in META_DAYS:
            raise ValueError(f"bad schedule day {block.get('day')!r}")
        start, end = int(block["start_hour"]), int(block["end_hour"])
        if not 0 <= start < end <= 24:
            raise ValueError(f"bad schedule hours {start}..{end}")
        by_hours[(start, end)].append(META_DAYS.index(str(block["day"])))
    if not by_hours:
        return {"adset_schedule": [], "pacing_type": ["standard"]}
    entries = [{"start_minute": start * 60, "end_minute": end * 60, "days": sorted(days), "timezone_type": "USER"}
               for (start, end), days in sorted(by_hours.items())]
    return {"adset_schedule": entries, "pacing_type": ["day_parting"]}
