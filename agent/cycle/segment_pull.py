"""Breakdown reports in an account's pull: one request per report, each an optional read.

Reports are read in parallel with the rest of the pull (`ReadPool`); one that fails is noted in
`OptionalReads` and its dimensions keep what was stored before. The rows are completed with the
`unknown` segment against the ad sets' own rows, so every dimension sums to the totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Connection

from agent.cycle.concurrency import ReadPool
from agent.cycle.optional_reads import OptionalReads
from agent.storage import segment_store
from connectors.base import Connector
from connectors.records import MetricRow, SegmentRow
from connectors.segment_reader import SegmentReader
from connectors.segments import BREAKDOWN_REPORTS, complete_with_unknown


@dataclass
class BreakdownReads:
    """The reports started for one account, by report name."""

    account_id: str
    platform: str
    reports: dict[str, Future[list[SegmentRow]]] = field(default_factory=dict)


def start_breakdowns(connector: Connector, account_id: str, platform: str, start: date, end: date,
                     pool: ReadPool) -> BreakdownReads:
    """Submit each breakdown report the connector has for the account (none if it has no breakdowns)."""
    reads = BreakdownReads(account_id, platform)
    if not isinstance(connector, SegmentReader):
        return reads
    reader: SegmentReader = connector
    for report in reader.breakdown_reports(account_id):
        reads.reports[report] = pool.submit(
            lambda r=report: list(reader.segment_metrics(account_id, r, start, end)))  # type: ignore[misc]
    return reads


def futures(reads: BreakdownReads) -> list[Future[list[SegmentRow]]]:
    return list(reads.reports.values())


def store_breakdowns(connection: Connection, reads: BreakdownReads, metrics: Sequence[MetricRow], start: date,
                     end: date, now: datetime, optional: OptionalReads) -> int:
    """Store the reports that answered (completed with `unknown`); returns the rows written."""
    written = 0
    reports = BREAKDOWN_REPORTS.get(reads.platform, {})
    for report, read in sorted(reads.reports.items()):
        rows = optional.result(f"{report} breakdown", read)
        if rows is None:
            continue
        dimensions = reports.get(report) or tuple(sorted({r.dimension for r in rows}))
        totals = [m for m in metrics if m.level == "ad_set" and start <= m.day <= end]
        complete = complete_with_unknown(rows, totals, dimensions)
        written += segment_store.replace_segments(connection, reads.account_id, set(dimensions), start, end,
                                                  complete, now)
    return written
