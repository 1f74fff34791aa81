"""An ad set's age range in our age segments: which bands its targeting leaves out, and the range
that narrows it by one band at an edge (or widens it back).

Meta has no age exclusion: targeting holds one range, `age_min` and `age_max` (18 to 65; 65 means
"65 and over"; both default to those ends), so an age band can only be cut where it is at an edge of
the range (https://developers.facebook.com/docs/marketing-api/audiences/reference/basic-targeting).
Under a special ad category (credit, employment, housing, social issues) Meta forbids narrowing the
age range, and under Advantage+ audience (`targeting_automation.advantage_audience` = 1) the age range
is only a suggestion Meta may go beyond: the policy does not propose a cut in either case.

Our age segments are the insights breakdown's bands (connectors/segments.py AGES).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

AGE_MIN, AGE_MAX = 18, 65
# our age segment -> (first, last) age it covers; 65 stands for 65 and over, as in Meta's `age_max`
AGE_BANDS: dict[str, tuple[int, int]] = {"18-24": (18, 24), "25-34": (25, 34), "35-44": (35, 44),
                                         "45-54": (45, 54), "55-64": (55, 64), "65+": (65, 65)}


def age_range(targeting: Mapping[str, Any]) -> tuple[int, int]:
    """(age_min, age_max) of the targeting, Meta's defaults where unset."""
    low, high = targeting.get("age_min"), targeting.get("age_max")
    return (int(low) if low is not None else AGE_MIN, int(high) if high is not None else AGE_MAX)


def excluded_ages(targeting: Mapping[str, Any]) -> list[str]:
    """Our age bands the range leaves out entirely."""
    low, high = age_range(targeting)
    return [band for band, (first, last) in AGE_BANDS.items() if last < low or first > high]


def advantage_audience(targeting: Mapping[str, Any]) -> bool:
    """Whether Advantage+ audience is on (the age range is then a suggestion)."""
    automation = targeting.get("targeting_automation") or {}
    return str(automation.get("advantage_audience", "0")) == "1"


def narrowed(low: int, high: int, segment: str, excluded: bool) -> tuple[int, int]:
    """The range with `segment` cut at its edge (`excluded`) or brought back next to it; ValueError
    for a band that is not at an edge, unknown, or whose cut would leave no age."""
    if segment not in AGE_BANDS:
        raise ValueError(f"age {segment!r} cannot be targeted; known: {', '.join(AGE_BANDS)}")
    first, last = AGE_BANDS[segment]
    if excluded:
        if last < low or first > high:
            return low, high  # already outside the range
        if first <= low <= last:
            low = last + 1
        elif first <= high <= last:
            high = first - 1
        else:
            raise ValueError(f"age {segment} is inside the range {low}-{high}: Meta narrows a range only at its ends")
        if low > high:
            raise ValueError(f"cutting age {segment} would leave the ad set no age to deliver to")
        return low, high
    return min(low, first), max(high, last)


def with_age_band(targeting: Mapping[str, Any], segment: str, excluded: bool,
                  bounds: tuple[int, int] | None = None) -> dict[str, Any]:
    """`targeting` with the age range narrowed by (or widened back to) `segment`; `bounds` sets the
    range exactly (an undo restores the range that was there) and must agree with `excluded`."""
    low, high = bounds if bounds is not None else narrowed(*age_range(targeting), segment, excluded)
    if not AGE_MIN <= low <= high <= AGE_MAX:
        raise ValueError(f"age range {low}-{high} is outside Meta's {AGE_MIN}-{AGE_MAX}")
    updated = copy.deepcopy(dict(targeting))
    updated["age_min"], updated["age_max"] = low, high
    if (segment in excluded_ages(updated)) != excluded:
        raise ValueError(f"age range {low}-{high} does not {'leave out' if excluded else 'include'} {segment}")
    return updated
