"""Importing outcomes, from a file or a webhook delivery: one transaction per file, rows checked one by one.

Good rows go in and bad ones are reported by line; a file none of whose rows can be used writes
nothing. Each import re-derives every attribution in the same transaction, so the attributions
always match the outcomes and the current rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine

from agent.config import AgentConfig
from agent.customers.membership import refresh_segments
from agent.outcomes.attribution import Attributor, attribute
from agent.outcomes.mappings import OutcomeMapping
from agent.outcomes.reader import FileFormat, Row, read_rows
from agent.outcomes.records import CLICK_ID_FIELDS, OutcomeRecord, RejectedRow, redact_reason
from agent.outcomes.store import (
    UpsertCounts,
    ad_set_parents,
    all_outcomes,
    attribution_counts,
    crm_ids_with_click_ids,
    known_campaigns,
    outcomes_of,
    replace_attributions,
    upsert_outcomes,
)
from agent.storage.crm_segments import remember_phone_forms


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class ImportResult:
    source: str
    rows: int
    records: int
    counts: UpsertCounts
    rejected: list[Rejection] = field(default_factory=list)
    attribution: dict[str, int] = field(default_factory=dict)  # method -> stored outcomes, after the import

    def as_json(self) -> dict[str, object]:
        return {"source": self.source, "rows": self.rows, "records": self.records,
                "inserted": self.counts.inserted, "updated": self.counts.updated,
                "unchanged": self.counts.unchanged, "attribution": self.attribution,
                "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected]}


class NothingImported(ValueError):
    """Every row was rejected: nothing is written. The message says so in one line."""

    def __init__(self, message: str, rejected: Sequence[Rejection]) -> None:
        super().__init__(message)
        self.rejected = list(rejected)


def parse_rows(rows: Iterable[Row], mapping: OutcomeMapping) -> tuple[list[OutcomeRecord], list[Rejection]]:
    records: list[OutcomeRecord] = []
    rejected: list[Rejection] = []
    for row in rows:
        if "\x00invalid" in row.cells:
            rejected.append(Rejection(row.line, row.cells["\x00invalid"] or "unreadable"))
            continue
        if "\x00extra" in row.cells:
            rejected.append(Rejection(row.line, "more fields than the header has columns"))
            continue
        try:
            records.extend(mapping.records_of(row.cells))
        except RejectedRow as error:
            rejected.append(Rejection(row.line, redact_reason(str(error))))
    return records, rejected


def store_records(connection: Connection, config: AgentConfig, records: Sequence[OutcomeRecord], source: str,
                  now: datetime, everything: bool = True) -> tuple[UpsertCounts, dict[str, int]]:
    """Upsert and re-attribute, in the caller's transaction: every outcome (a file: rules may have
    changed since the last import), or only those the records can affect (a webhook delivery: its CRM
    records, and the records sharing one of its click ids, whose click map entry it may have added)."""
    counts = upsert_outcomes(connection, records, source, now)
    remember_phone_forms(connection, ((r.phone_sha256, r.phone_digits_sha256) for r in records))
    attributor = Attributor(config, ad_set_parents(connection), known_campaigns(connection))
    if everything:
        replace_attributions(connection, attribute([dict(row) for row in all_outcomes(connection)], attributor, now))
        return counts, attribution_counts(connection)
    click_ids = [str(getattr(r, name)) for r in records for name in CLICK_ID_FIELDS if getattr(r, name)]
    affected = {r.crm_id for r in records} | crm_ids_with_click_ids(connection, click_ids)
    outcomes = [dict(row) for row in outcomes_of(connection, affected)]
    sources = [dict(row) for row in outcomes_of(connection, crm_ids_with_click_ids(connection, [], with_utm=True))]
    replace_attributions(connection, attribute(outcomes, attributor, now, click_map_records=sources),
                         outcome_ids=[int(row["id"]) for row in outcomes])
    return counts, attribution_counts(connection)


def import_rows(engine: Engine, config: AgentConfig, rows: Sequence[Row], mapping: OutcomeMapping, source: str,
                now: datetime) -> ImportResult:
    records, rejected = parse_rows(rows, mapping)
    if not records:
        first = f" (first: line {rejected[0].line}: {rejected[0].reason})" if rejected else ""
        raise NothingImported(f"{source}: all {len(rows)} rows rejected, nothing imported{first}", rejected)
    with engine.begin() as connection:
        counts, attribution = store_records(connection, config, records, source, now)
        if config.segments:  # won stages make customers: CRM segments follow in the same transaction
            refresh_segments(connection, config, now)
    return ImportResult(source, len(rows), len(records), counts, rejected, attribution)


def import_file(engine: Engine, config: AgentConfig, path: Path, fmt: FileFormat, mapping: OutcomeMapping,
                now: datetime) -> ImportResult:
    """Import one CRM export; UnreadableFile, MappingError or NothingImported when nothing can be."""
    header, rows = read_rows(path, fmt)
    mapping.check_header(header)
    return import_rows(engine, config, rows, mapping, f"file:{path.name}", now)
