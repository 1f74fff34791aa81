"""`outcomes import` and `report outcomes`: CRM results in, CPQL and pipeline by channel out."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from agent.clock import SystemClock
from agent.commands.common import (
    EXIT_BAD_INPUT,
    config_option,
    console_for,
    engine_for,
    ensure_schema,
    fail,
    load_or_exit,
)
from agent.outcomes.importing import ImportResult, NothingImported, import_file
from agent.outcomes.mappings import MappingError, built_in_names, load_mapping
from agent.outcomes.reader import FileFormat, UnreadableFile, guess_format
from agent.outcomes.report import LEVELS, Grouping, ReportError, outcome_report, rows_as_text
from agent.outcomes.uploads_gate import gate_uploads


@click.group("outcomes")
def outcomes_group() -> None:
    """CRM outcomes: import stages (lead ... won) and attribute them to ad sets."""


@outcomes_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="File format (default: from the extension; .jsonl is JSON Lines, anything else CSV).")
@click.option("--mapping", "mapping_name", default="plain", show_default=True,
              help=f"A built-in mapping ({', '.join(built_in_names())}) or a mapping YAML file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
def outcomes_import(file: Path, fmt: FileFormat | None, mapping_name: str, as_json: bool, config_path: Path) -> None:
    """Import a CRM export: good rows in (one transaction), each rejected row reported with its line."""
    config = load_or_exit(config_path)
    try:
        mapping = load_mapping(mapping_name)
    except MappingError as error:
        fail(str(error))
    with engine_for(config) as engine:
        ensure_schema(engine)
        try:
            result = import_file(engine, config, file, fmt or guess_format(file), mapping, SystemClock().now())
        except (UnreadableFile, MappingError, NothingImported) as error:
            fail(f"{file}: {error}" if isinstance(error, MappingError) else str(error))
            raise SystemExit(EXIT_BAD_INPUT) from None  # for the type checker: fail() exits
        uploads = gate_uploads(engine, config, SystemClock().now())  # docs/outcomes.md, "Sending outcomes back"
    _print_result(result, as_json, uploads)


def _print_result(result: ImportResult, as_json: bool, uploads: dict[str, str]) -> None:
    if as_json:
        click.echo(json.dumps({**result.as_json(), **({"uploads": uploads} if uploads else {})}, indent=2))
        return
    console = console_for()
    counts = result.counts
    console.print(f"{result.source}: {result.rows} rows, {result.records} stage records: {counts.inserted} new, "
                  f"{counts.updated} updated, {counts.unchanged} unchanged; {len(result.rejected)} rows rejected",
                  markup=False)
    attribution = ", ".join(f"{method} {count}" for method, count in sorted(result.attribution.items()))
    console.print(f"  attribution of all stored outcomes: {attribution}", markup=False)
    for rejection in result.rejected:
        console.print(f"  rejected line {rejection.line}: {rejection.reason}", markup=False)
    for account_id, state in sorted(uploads.items()):
        console.print(f"  upload_conversions for {account_id}: {state}", markup=False)


@click.command("outcomes")
@click.option("--by", type=click.Choice(LEVELS), default="platform", show_default=True)
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Only clicks (and spend) on or after this day: a cohort.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@config_option
def report_outcomes(by: Grouping, since: Any, fmt: str, config_path: Path) -> None:
    """Spend, leads, qualified leads, CPQL, pipeline and won, with ROAS, blended in the reporting currency."""
    config = load_or_exit(config_path)
    with engine_for(config) as engine:
        ensure_schema(engine)
        try:
            with engine.connect() as connection:
                report = outcome_report(connection, config, by, since.date() if since else None)
        except ReportError as error:
            fail(str(error))
            return
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    elif fmt == "csv":
        click.echo(_csv(report["rows"]), nl=False)
    else:
        for line in rows_as_text(report, by, config.outcomes.qualified_stage, since.date() if since else None):
            click.echo(line)


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    fields = ["platform", "account", "campaign", "ad_set", "spend", "leads", "qualified_leads", "cpql",
              "opportunities", "pipeline", "won", "pipeline_roas", "won_roas", "currency"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
