"""Audiences as sets of people, so reach, overlap and exclusions are exact.

Each account has a line of numbered people; an audience is a union of half-open ranges on that line.
Union, intersection and difference of ranges are cheap and exact, so `union_reach` of any audiences
always agrees with their sizes and pairwise overlaps (no inclusion-exclusion estimates).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Interval = tuple[int, int]


@dataclass(frozen=True)
class PeopleSet:
    """Disjoint, sorted, non-empty half-open ranges [start, end) of person numbers."""

    intervals: tuple[Interval, ...] = ()

    @staticmethod
    def of(intervals: Iterable[Interval]) -> PeopleSet:
        """Normalise arbitrary ranges (overlapping, unsorted, empty) into a PeopleSet."""
        merged: list[list[int]] = []
        for start, end in sorted(i for i in intervals if i[1] > i[0]):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return PeopleSet(tuple((s, e) for s, e in merged))

    @property
    def size(self) -> int:
        """Number of people in the set."""
        return sum(end - start for start, end in self.intervals)

    def union(self, other: PeopleSet) -> PeopleSet:
        """People in either set."""
        return PeopleSet.of(self.intervals + other.intervals)

    def intersection(self, other: PeopleSet) -> PeopleSet:
        """People in both sets."""
        result: list[Interval] = []
        i = j = 0
        while i < len(self.intervals) and j < len(other.intervals):
            start = max(self.intervals[i][0], other.intervals[j][0])
            end = min(self.intervals[i][1], other.intervals[j][1])
            if start < end:
                result.append((start, end))
            if self.intervals[i][1] < other.intervals[j][1]:
                i += 1
            else:
                j += 1
        return PeopleSet(tuple(result))

    def difference(self, other: PeopleSet) -> PeopleSet:
        """People in this set but not in `other` (what an exclusion leaves)."""
        result: list[Interval] = []
        for start, end in self.intervals:
            cursor = start
            for other_start, other_end in other.intervals:
                if other_end <= cursor or other_start >= end:
                    continue
                if other_start > cursor:
                    result.append((cursor, other_start))
                cursor = max(cursor, other_end)
                if cursor >= end:
                    break
            if cursor < end:
                result.append((cursor, end))
        return PeopleSet(tuple(result))


def union_of(sets: Iterable[PeopleSet]) -> PeopleSet:
    """The union of any number of people sets."""
    intervals: list[Interval] = []
    for people in sets:
        intervals.extend(people.intervals)
    return PeopleSet.of(intervals)
