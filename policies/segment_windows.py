"""A segment's window of evidence from its breakdown rows: spend, lag-weighted exposure, conversions,
value, clicks, impressions and active days per (dimension, segment), the same way for exclusions and
for discovery."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

from connectors.records import SegmentRow
from policies.roas_evidence import WindowEvidence
from policies.segment_exclusions import SegmentWindow


def segment_windows(rows: Sequence[SegmentRow], start: date, end: date,
                    completeness: Callable[[date], float]) -> list[SegmentWindow]:
    """One window per (dimension, segment) of `rows`; `completeness(day)` is the share of that day's
    conversions already reported (the account's lag curve)."""
    grouped: dict[tuple[str, str], list[SegmentRow]] = defaultdict(list)
    for row in rows:
        grouped[(row.dimension, row.segment)].append(row)
    found = []
    for (dimension, segment), parts in sorted(grouped.items()):
        spend = sum((r.spend for r in parts), Decimal(0))
        exposure = sum(float(r.spend) * completeness(r.day) for r in parts)
        found.append(SegmentWindow(dimension, segment, WindowEvidence(
            start, end, spend, exposure, sum(r.conversions for r in parts),
            sum((r.conversion_value for r in parts), Decimal(0)), sum(r.clicks for r in parts),
            sum(r.impressions for r in parts), len({r.day for r in parts if r.spend > 0}), exposure,
            min(r.day for r in parts))))
    return found
