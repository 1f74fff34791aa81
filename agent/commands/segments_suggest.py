"""`segments suggest`: segments worth treating apart, from the breakdowns and the CRM (docs/segments.md,
"Segment discovery"). Nothing is changed: a person pastes the printed snippet into the config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from agent.commands.common import (
    clock_for,
    config_option,
    engine_for,
    ensure_schema,
    fail,
    load_or_exit,
    today_option,
)
from agent.reports import segment_suggestions
from agent.reports.segment_suggestions import DEFAULT_WINDOW_DAYS


@click.command("suggest")
@click.option("--account", "accounts", multiple=True, help="Only this account (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--window-days", type=click.IntRange(7, 90), default=DEFAULT_WINDOW_DAYS, show_default=True,
              help="Breakdown days ending yesterday.")
@config_option
@today_option
def segments_suggest(accounts: tuple[str, ...], fmt: str, window_days: int, config_path: Path, today: Any) -> None:
    """Three to five segments per account that return differently, with evidence, and CRM customer groups."""
    config = load_or_exit(config_path)
    known = {a.id for a in config.accounts}
    unknown = [a for a in accounts if a not in known]
    if unknown:
        fail(f"unknown account {unknown[0]!r} (configured: {', '.join(sorted(known))})")
    clock = clock_for(today)
    day = clock.now().date()
    with engine_for(config) as engine:
        ensure_schema(engine)
        found = [segment_suggestions.account_suggestions(engine, config, account, day, clock, window_days)
                 for account in config.accounts if not accounts or account.id in accounts]
        crm = segment_suggestions.crm_suggestions(engine, day)
    if fmt == "json":
        click.echo(json.dumps(segment_suggestions.as_json(found, crm), indent=2))
    else:
        click.echo(segment_suggestions.render_text(found, crm), nl=False)
