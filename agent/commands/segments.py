"""`segments import` and `segments list`: customer lists in, CRM segments' sizes out."""

from __future__ import annotations

import json
from pathlib import Path

import click

from agent.clock import SystemClock
from agent.commands.common import EXIT_BAD_INPUT, config_option, console_for, fail, session_for
from agent.customers.importing import (
    BadHeader,
    CustomerImport,
    NothingImported,
    UnreadableFile,
    import_customer_list,
)
from agent.customers.membership import refresh_segments
from agent.outcomes.reader import FileFormat, guess_format
from agent.storage.crm_segments import segment_sizes


@click.group("segments")
def segments_group() -> None:
    """Customer segments: CRM lists in (members as hashed identifiers), sizes, and discovery (docs/segments.md)."""


@segments_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="File format (default: from the extension; .jsonl is JSON Lines, anything else CSV).")
@click.option("--list", "list_name", default="customers", show_default=True,
              help="The list's name: re-importing a list updates it; segments may read only some lists.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
def segments_import(file: Path, fmt: FileFormat | None, list_name: str, as_json: bool, config_path: Path) -> None:
    """Import a customer list (id, email, phone, amount, last_purchase, marketing_consent, CRM fields):
    emails and phones hashed at once, good rows in (one transaction), each rejected row reported."""
    if not list_name.strip() or len(list_name) > 64:
        fail("--list: give a name of 1 to 64 characters")
    with session_for(config_path) as session:
        try:
            result = import_customer_list(session.engine, session.config, file, fmt or guess_format(file),
                                          list_name.strip(), SystemClock().now())
        except (UnreadableFile, BadHeader, NothingImported) as error:
            fail(f"{file}: {error}" if isinstance(error, BadHeader) else str(error))
            raise SystemExit(EXIT_BAD_INPUT) from None  # for the type checker: fail() exits
    _print_import(result, as_json)


def _print_import(result: CustomerImport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
        return
    console = console_for()
    counts = result.counts
    console.print(f"{result.source} into list {result.list_name}: {result.rows} rows: {counts.inserted} new, "
                  f"{counts.updated} updated, {counts.unchanged} unchanged; {len(result.rejected)} rows rejected",
                  markup=False)
    if result.kept_fields:
        console.print(f"  CRM fields kept (read by a segment rule): {', '.join(result.kept_fields)}", markup=False)
    if result.ignored_columns:
        console.print(f"  columns not stored (no segment rule reads them): {', '.join(result.ignored_columns)}",
                      markup=False)
    for name, size in sorted(result.segment_sizes.items()):
        console.print(f"  segment {name}: {size} members", markup=False)
    for rejection in result.rejected:
        console.print(f"  rejected line {rejection.line}: {rejection.reason}", markup=False)


@segments_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@config_option
def segments_list(fmt: str, config_path: Path) -> None:
    """Each configured CRM segment: its members (hashed emails and phones) and how many consented to marketing."""
    with session_for(config_path) as session:
        now = SystemClock().now()
        with session.engine.begin() as connection:
            refresh_segments(connection, session.config, now)
            sizes = segment_sizes(connection)
        definitions = {s.name: s for s in session.config.segments}
    if fmt == "json":
        click.echo(json.dumps({"segments": [
            {"name": s.name, "kind": s.kind, "description": definitions[s.name].description, "size": s.size,
             "consented": s.consented, "refreshed_at": s.refreshed_at.isoformat()} for s in sizes]}, indent=2))
        return
    if not sizes:
        click.echo("no CRM segments configured (add a `segments:` list to the config; docs/segments.md)")
        return
    click.echo("CRM segments (members are hashed emails and phones; consented: marketing consent given)")
    click.echo(f"  {'segment':<28} {'kind':<20} {'members':>8} {'consented':>10}")
    for s in sizes:
        click.echo(f"  {s.name:<28} {s.kind:<20} {s.size:>8} {s.consented:>10}")
