"""Optional connector capability: breakdown reports (delivery by segment of who saw the ads).

A connector that has it answers one report per account and breakdown (`BREAKDOWN_REPORTS` of its
platform in `connectors/segments.py`) with `SegmentRow`s in our own dimension and segment names.
Breakdowns are an optional read: the pull goes on without them (agent/cycle/optional_reads.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol, runtime_checkable

from connectors.records import SegmentRow


@runtime_checkable
class SegmentReader(Protocol):
    def breakdown_reports(self, account_id: str) -> Sequence[str]:
        """The breakdown reports this account has (keys of its platform's `BREAKDOWN_REPORTS`)."""
        ...

    def segment_metrics(self, account_id: str, report: str, start: date, end: date) -> Iterable[SegmentRow]:
        """Daily ad-set rows of one breakdown report for `start..end`, in our segment names."""
        ...
