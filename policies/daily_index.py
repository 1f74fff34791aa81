"""Lookups over a snapshot's daily rows, built once per snapshot and shared by every policy.

Policies keep asking the same questions of the same rows: "this entity's rows between two days",
"these ad sets' totals per day". Answered by scanning each entity's rows every time, a pass of
every policy costs a multiple of reading the data. A `DailyIndex` answers them from structures
built on first use (the days of each entity, for bisection; day-by-entity arrays of the ad-set
rows) and lives on the immutable snapshot it describes (`Snapshot.index`), so nothing survives
the snapshot.

Sums are taken in the order the callers' loops took them (entity after entity, day by day), so
every float is bit-for-bit what the row-by-row code computed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

import numpy as np

from connectors.records import MetricRow

T = TypeVar("T")
AD_SET_FIELDS: tuple[str, ...] = ("spend", "impressions", "clicks", "conversions", "value")


@dataclass(frozen=True)
class DayTotalsArrays:
    """Summed ad-set delivery per day over `first_day .. first_day + len - 1` (floats, as summed).

    `present[i]` says whether any of the ad sets had a row on day i (a day without rows is absent,
    which is not the same as a day with zero delivery).
    """

    first_day: date
    spend: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    present: np.ndarray

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(len(self.present))]


class _AdSetMatrix:
    """Ad-set-level rows as entity-by-day float arrays over the snapshot's whole day range."""

    def __init__(self, daily: Mapping[str, Sequence[MetricRow]]) -> None:
        rows: list[MetricRow] = []
        entity_of: list[int] = []
        self.position: dict[str, int] = {}
        for entity_id, entity_rows in daily.items():
            ad_set_rows = [r for r in entity_rows if r.level == "ad_set"]
            if ad_set_rows:
                entity_of += [len(self.position)] * len(ad_set_rows)
                self.position[entity_id] = len(self.position)
                rows += ad_set_rows
        ordinals = [r.day.toordinal() for r in rows]
        first = min(ordinals, default=0)
        self.first_day = date.fromordinal(first) if rows else date.min
        width = max(ordinals, default=first - 1) - first + 1
        at = (np.array(entity_of, dtype=np.intp), np.array(ordinals, dtype=np.intp) - first)
        # float() of each Decimal and int, as the row-by-row sums took them.
        columns = {
            "spend": [float(r.spend) for r in rows],
            "impressions": [float(r.impressions) for r in rows],
            "clicks": [float(r.clicks) for r in rows],
            "conversions": [float(r.conversions) for r in rows],
            "value": [float(r.conversion_value) for r in rows],
        }
        self.present = np.zeros((len(self.position), width), dtype=bool)
        self.present[at] = True
        # A second row for the same entity and day (the store never holds one, other sources
        # might) is kept aside and added after the first, as the running sum added it.
        self.extra_rows: dict[int, list[tuple[int, dict[str, float]]]] = {}
        if int(self.present.sum()) < len(rows):
            seen: set[tuple[int, int]] = set()
            first_rows = []
            for k, cell in enumerate(zip(entity_of, at[1].tolist(), strict=True)):
                if cell in seen:
                    self.extra_rows.setdefault(cell[0], []).append(
                        (cell[1], {name: column[k] for name, column in columns.items()}))
                else:
                    seen.add(cell)
                    first_rows.append(k)
            at = (at[0][first_rows], at[1][first_rows])
            columns = {name: [column[k] for k in first_rows] for name, column in columns.items()}
        self.fields = {name: np.zeros((len(self.position), width)) for name in AD_SET_FIELDS}
        for name, column in columns.items():
            self.fields[name][at] = column

    def totals(self, entity_ids: Iterable[str], start: date, end: date) -> DayTotalsArrays:
        """Per-day sums of `entity_ids` over `start..end` (clipped to the days held)."""
        low = max((start - self.first_day).days, 0)
        high = min((end - self.first_day).days + 1, self.present.shape[1])
        width = max(high - low, 0)
        sums = {name: np.zeros(width) for name in AD_SET_FIELDS}
        present = np.zeros(width, dtype=bool)
        for entity_id in entity_ids:
            i = self.position.get(entity_id)
            if i is None:
                continue
            # One entity at a time, in the caller's order: the same additions as a row-by-row loop.
            for name in AD_SET_FIELDS:
                sums[name] += self.fields[name][i, low:high]
            for column, values in self.extra_rows.get(i, ()):
                if low <= column < high:
                    for name in AD_SET_FIELDS:
                        sums[name][column - low] += values[name]
            present |= self.present[i, low:high]
        return DayTotalsArrays(self.first_day + timedelta(days=low), sums["spend"], sums["impressions"],
                               sums["clicks"], sums["conversions"], sums["value"], present)


class DailyIndex:
    """Fast, read-only answers over one snapshot's `daily` rows (see the module docstring)."""

    def __init__(self, daily: Mapping[str, Sequence[MetricRow]]) -> None:
        self._daily = daily
        self._days: dict[str, list[date] | None] = {}
        self._matrix: _AdSetMatrix | None = None
        self._memo: dict[Hashable, object] = {}

    def rows(self, entity_id: str, start: date, end: date) -> list[MetricRow]:
        """The entity's rows with `start <= day <= end`, in their stored order."""
        rows = self._daily.get(entity_id, ())
        if entity_id not in self._days:
            days = [r.day for r in rows]
            ordered = all(a <= b for a, b in zip(days, days[1:], strict=False))
            self._days[entity_id] = days if ordered else None
        days_or_none = self._days[entity_id]
        if days_or_none is None:  # not oldest-first after all: scan
            return [row for row in rows if start <= row.day <= end]
        return list(rows[bisect_left(days_or_none, start):bisect_right(days_or_none, end)])

    def ad_set_totals(self, entity_ids: Iterable[str], start: date, end: date) -> DayTotalsArrays:
        """Per-day sums of the ad-set-level rows of `entity_ids` over `start..end`."""
        if self._matrix is None:
            self._matrix = _AdSetMatrix(self._daily)
        return self._matrix.totals(entity_ids, start, end)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, remembered under `key` for as long as this snapshot lives.

        The key must name everything the result depends on besides the daily rows and the snapshot's
        `today` (an index is only shared by snapshots with the same rows and day, see `Snapshot.replaced`).
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]
