"""Dayparting through the platforms' own schedules: the `ad_schedule` action (docs/rules.md).

A rule whose `then` holds `{kind: ad_schedule, bid_modifier: m}` does not act at the hours of its
`schedule`; it writes them into the platform once, as a standing weekly schedule:

- Google Ads: ad schedule criteria on the campaign (`AdScheduleInfo`, a day and an hour range, with a
  bid modifier). Once a campaign has any ad schedule it serves only in scheduled hours, so the hours
  outside the rule's window are scheduled too, with modifier 1.0.
- Meta: the ad set's `adset_schedule` (the hours it runs), which Meta accepts only on an ad set with a
  lifetime budget and day-parting pacing; it has no modifier, so only `bid_modifier: 0` (off in the
  window) can be expressed, and it is written as the hours outside the window.
- LinkedIn has no ad schedules.

A schedule is a list of blocks `{day, start_hour, end_hour, bid_modifier}` (day `mon`..`sun`, hours
0..24, end exclusive), sorted, the same shape the connectors report as `attributes["ad_schedule"]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.records import Entity
from policies.base import Snapshot
from policies.rules.schema import WEEKDAYS, AdSchedule, Schedule

Block = dict[str, Any]


def _runs(hours: Sequence[int]) -> list[tuple[int, int]]:
    """Contiguous runs of hours as (start, end exclusive): [8, 9, 10, 20] -> [(8, 11), (20, 21)]."""
    runs: list[tuple[int, int]] = []
    for hour in sorted(set(hours)):
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + 1)
        else:
            runs.append((hour, hour + 1))
    return runs


def weekly_blocks(schedule: Schedule, bid_modifier: float) -> list[Block]:
    """The whole week: the rule's window (its weekdays, all day unless `hours`) at `bid_modifier`, every
    other hour at 1.0. With `bid_modifier` 0 the window is left out: unscheduled hours do not serve."""
    days: list[str] = list(schedule.weekdays) or list(WEEKDAYS)
    window_hours = schedule.hours or list(range(24))
    blocks: list[Block] = []
    for day in WEEKDAYS:
        dimmed = set(window_hours) if day in days else set()
        for start, end in _runs(sorted(dimmed)) if bid_modifier > 0 else []:  # 0: not scheduled, so off
            blocks.append({"day": day, "start_hour": start, "end_hour": end, "bid_modifier": bid_modifier})
        for start, end in _runs([h for h in range(24) if h not in dimmed]):
            blocks.append({"day": day, "start_hour": start, "end_hour": end, "bid_modifier": 1.0})
    return sorted_blocks(blocks)


def sorted_blocks(blocks: Sequence[Mapping[str, Any]]) -> list[Block]:
    """Blocks in one order (day of week, then hour), with plain types, so two schedules compare equal."""
    plain = [{"day": str(b["day"]), "start_hour": int(b["start_hour"]), "end_hour": int(b["end_hour"]),
              "bid_modifier": round(float(b.get("bid_modifier", 1.0)), 4)} for b in blocks]
    return sorted(plain, key=lambda b: (WEEKDAYS.index(b["day"]), b["start_hour"]))


def schedule_holder(snapshot: Snapshot, entity: Entity) -> Entity | None:
    """Where the schedule lives: the campaign on Google (ad schedules are campaign criteria), the ad set
    itself on Meta."""
    if entity.platform == "google_ads":
        return entity if entity.level == "campaign" else snapshot.entities.get(entity.parent_id or "")
    return entity


def why_not(holder: Entity, action: AdSchedule) -> str | None:
    """Why the holder's platform cannot take this schedule, in words (None: it can)."""
    if holder.platform == "linkedin":
        return "LinkedIn has no ad schedules"
    if holder.platform == "meta":
        if holder.level != "ad_set":
            return "Meta schedules are set on ad sets"
        if action.bid_modifier != 0:
            return ("Meta ad set schedules only turn delivery on and off: use bid_modifier 0, or dim with a "
                    "budget rule")
        if holder.daily_budget is not None:
            return (f"Meta ad set schedules need a lifetime budget; {holder.name} has a daily budget of "
                    f"{holder.daily_budget}")
    if "ad_schedule" not in holder.attributes:
        return "the platform reports no ad schedule for this entity"
    return None
