"""`segments import`: a customer list in, one transaction per file, rows checked one by one.

The same semantics as `outcomes import` (agent/outcomes/importing.py): good rows go in and bad ones are
reported by line; a file that cannot be read, or none of whose rows can be used, writes nothing.
Re-importing the same file changes nothing but when its entries were last seen (retention counts
from there). The segments' members are recomputed in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from agent.config import AgentConfig
from agent.customers.customer_list import BadHeader, ColumnPlan, build_customer, plan_columns
from agent.customers.membership import refresh_segments
from agent.customers.settings import crm_fields_used
from agent.outcomes.importing import NothingImported, Rejection
from agent.outcomes.reader import FileFormat, Row, UnreadableFile, read_rows
from agent.outcomes.records import RejectedRow
from agent.outcomes.store import UpsertCounts
from agent.storage.crm_segments import CustomerRecord, upsert_customers

__all__ = ["BadHeader", "CustomerImport", "NothingImported", "UnreadableFile", "import_customer_list"]


@dataclass
class CustomerImport:
    source: str
    list_name: str
    rows: int
    counts: UpsertCounts
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    kept_fields: tuple[str, ...] = ()
    segment_sizes: Mapping[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"source": self.source, "list": self.list_name, "rows": self.rows,
                "inserted": self.counts.inserted, "updated": self.counts.updated,
                "unchanged": self.counts.unchanged, "kept_fields": list(self.kept_fields),
                "ignored_columns": list(self.ignored_columns), "segments": dict(self.segment_sizes),
                "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected]}


def parse_customers(rows: Sequence[Row], plan: ColumnPlan) -> tuple[list[CustomerRecord], list[Rejection]]:
    """Each row checked on its own: a record, or a rejection with its line and reason."""
    records: list[CustomerRecord] = []
    rejected: list[Rejection] = []
    for row in rows:
        if "\x00invalid" in row.cells:
            rejected.append(Rejection(row.line, row.cells["\x00invalid"] or "unreadable"))
        elif "\x00extra" in row.cells:
            rejected.append(Rejection(row.line, "more fields than the header has columns"))
        else:
            try:
                records.append(build_customer(row.cells, plan))
            except RejectedRow as error:
                rejected.append(Rejection(row.line, str(error)))
    return records, rejected


def import_customer_list(engine: Engine, config: AgentConfig, path: Path, fmt: FileFormat, list_name: str,
                         now: datetime) -> CustomerImport:
    """Import one customer list; UnreadableFile, BadHeader or NothingImported when nothing can be."""
    header, rows = read_rows(path, fmt)
    plan = plan_columns(header, crm_fields_used(config.segments))
    records, rejected = parse_customers(rows, plan)
    source = f"file:{path.name}"
    if not records:
        first = f" (first: line {rejected[0].line}: {rejected[0].reason})" if rejected else ""
        raise NothingImported(f"{source}: all {len(rows)} rows rejected, nothing imported{first}", rejected)
    with engine.begin() as connection:
        counts = upsert_customers(connection, list_name, records, source, now)
        sizes = refresh_segments(connection, config, now)
    return CustomerImport(source, list_name, len(rows), counts, rejected, plan.ignored,
                          tuple(sorted(plan.kept_fields)), sizes)
