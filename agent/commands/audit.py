"""`audit export`: everything an auditor needs to answer "why did it do that, and who said so?"."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click

from agent.commands.common import config_option, console_for, session_for
from agent.storage.audit_trail import audit_records

CSV_COLUMNS = ("id", "at", "simulated_day", "event", "actor", "account_id", "cycle_id", "action_id", "action_kind", "entity_id",
               "entity_name", "action_state", "dry_run", "message", "change", "rationale", "evidence", "data")


def write_jsonl(records: Iterator[Mapping[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, default=str, sort_keys=True) + "\n")
        count += 1
    return count


def write_csv(records: Iterator[Mapping[str, Any]], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow({key: json.dumps(value, default=str) if isinstance(value, (dict, list)) else value
                         for key, value in record.items()})
        count += 1
    return count


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("export")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Only events from this day on.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="File to write (default: stdout).")
@config_option
def audit_export(since: datetime | None, fmt: str, out: Path | None, config_path: Path) -> None:
    """Every proposal, decision, approval and execution with time, actor, rationale and evidence."""
    writer = write_jsonl if fmt == "jsonl" else write_csv
    with session_for(config_path, create=False) as session, session.engine.connect() as connection:
        records = audit_records(connection, since)
        if out is None:
            buffer = io.StringIO()
            writer(records, buffer)
            click.echo(buffer.getvalue(), nl=False)
            return
        with out.open("w", newline="") as handle:
            count = writer(records, handle)
    console_for(stderr=True).print(f"wrote {count} audit records to {out}", markup=False)
