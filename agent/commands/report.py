"""`report dashboard` and `report pacing`: the same reports the service writes on schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from agent.commands.common import (
    clock_for,
    config_option,
    console_for,
    engine_for,
    ensure_schema,
    load_or_exit,
    today_option,
)
from agent.reports.dashboard import render_dashboard
from agent.reports.pacing import pacing_reports, render_html, render_text


@click.group("report")
def report_group() -> None:
    """Dashboard and pacing report."""


@report_group.command("dashboard")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="HTML file to write.")
@config_option
@today_option
def report_dashboard(out: Path, config_path: Path, today: Any) -> None:
    """The daily performance dashboard as one self-contained HTML file."""
    config = load_or_exit(config_path)
    with engine_for(config) as engine:
        ensure_schema(engine)
        out.write_text(render_dashboard(engine, config, clock_for(today)))
    console_for().print(f"dashboard written to {out}", markup=False)


@report_group.command("pacing")
@click.option("--format", "fmt", type=click.Choice(["text", "html"]), default="text", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="File to write (default: stdout).")
@config_option
@today_option
def report_pacing(fmt: str, out: Path | None, config_path: Path, today: Any) -> None:
    """Budget, spend to date, projected month end, variance and recommended daily budget."""
    config = load_or_exit(config_path)
    with engine_for(config) as engine:
        ensure_schema(engine)
        reports = pacing_reports(engine, config, clock_for(today))
    text = render_text(reports) if fmt == "text" else render_html(reports)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
        console_for().print(f"pacing report written to {out}", markup=False)
