"""`report dashboard`, `report pacing` and `report impact`: the same reports the service writes on schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from agent.commands.common import (
    clock_for,
    config_option,
    console_for,
    engine_for,
    ensure_schema,
    fail,
    load_or_exit,
    session_for,
    today_option,
)
from agent.decisions.segment_proposals import account_proposals
from agent.experiments import report as impact
from agent.experiments.copy_test_report import copy_test_section, render_copy_tests_text
from agent.reports import segments as segment_report
from agent.reports.dashboard import render_dashboard
from agent.reports.pacing import pacing_reports, render_html, render_text
from connectors.segments import DIMENSIONS


@click.group("report")
def report_group() -> None:
    """Dashboard, pacing, segment and impact reports."""


@report_group.command("dashboard")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="HTML file to write.")
@config_option
@today_option
def report_dashboard(out: Path, config_path: Path, today: Any) -> None:
    """The daily performance dashboard as one self-contained HTML file."""
    with session_for(config_path, today) as session:
        out.write_text(render_dashboard(session.engine, session.config, session.clock))
    console_for().print(f"dashboard written to {out}", markup=False)


@report_group.command("pacing")
@click.option("--format", "fmt", type=click.Choice(["text", "html"]), default="text", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="File to write (default: stdout).")
@config_option
@today_option
def report_pacing(fmt: str, out: Path | None, config_path: Path, today: Any) -> None:
    """Budget, spend to date, projected month end, variance and recommended daily budget."""
    with session_for(config_path, today) as session:
        reports = pacing_reports(session.engine, session.config, session.clock)
    text = render_text(reports) if fmt == "text" else render_html(reports)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
        console_for().print(f"pacing report written to {out}", markup=False)


@report_group.command("segments")
@click.option("--account", "accounts", multiple=True, help="Only this account (repeatable).")
@click.option("--dimension", default=None, help="Only this dimension (device, age, gender, region, placement, "
              "company_size, industry, seniority, job_function).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--window-days", type=click.IntRange(1, 90), default=segment_report.DEFAULT_WINDOW_DAYS,
              show_default=True, help="Days ending yesterday.")
@click.option("--proposals", is_flag=True, help="Also show the segment exclusions the evidence supports "
              "(device -100% on Google, placements on Meta, company sizes on LinkedIn); nothing is queued.")
@config_option
@today_option
def report_segments(accounts: tuple[str, ...], dimension: str | None, fmt: str, window_days: int, proposals: bool,
                    config_path: Path, today: Any) -> None:
    """Spend, conversions, CPA and ROAS (with its interval) per segment of who saw the ads."""
    config = load_or_exit(config_path)
    known = {a.id for a in config.accounts}
    unknown = [a for a in accounts if a not in known]
    if unknown:
        fail(f"unknown account {unknown[0]!r} (configured: {', '.join(sorted(known))})")
    if dimension is not None and dimension not in DIMENSIONS:
        fail(f"unknown dimension {dimension!r} (one of: {', '.join(DIMENSIONS)})")
    clock = clock_for(today)
    with engine_for(config) as engine:
        ensure_schema(engine)
        curves = segment_report.account_curves(engine, config, clock.now().date(), clock)
        with engine.connect() as connection:
            report = segment_report.build_segment_report(
                connection, config, clock.now().date(), account_ids=list(accounts) or None,
                dimension=dimension, window_days=window_days, curves=curves)
        found = [p for a in config.accounts if not accounts or a.id in accounts
                 for p in account_proposals(engine, config, a, clock.now().date(), clock)
                 if dimension is None or p.change["to"].get("dimension") == dimension] if proposals else []
    if fmt == "json":
        body = report.as_json()
        if proposals:
            body["proposals"] = [segment_report.proposal_json(p) for p in found]
        click.echo(json.dumps(body, indent=2))
    elif fmt == "csv":
        click.echo(segment_report.render_csv(report), nl=False)
    else:
        click.echo(segment_report.render_text(report), nl=False)
        if proposals:
            click.echo(segment_report.render_proposals(found), nl=False)


@report_group.command("impact")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Only actions drawn into an experiment on or after this day (UTC).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@config_option
@today_option
def report_impact(since: datetime | None, fmt: str, config_path: Path, today: Any) -> None:
    """What the agent's actions earned, per action kind, measured against randomized holdouts (90% intervals)."""
    config = load_or_exit(config_path)
    with engine_for(config) as engine:
        ensure_schema(engine)
        with engine.connect() as connection:
            reports = impact.impact_reports(connection, config, clock_for(today).now(),
                                            since.replace(tzinfo=UTC) if since else None)
            copy_tests = copy_test_section(connection, [a.id for a in config.accounts],
                                           since.replace(tzinfo=UTC) if since else None)
    if fmt == "json":
        click.echo(json.dumps({**impact.impact_json(reports, config.accounts[0].currency),
                               "copy_tests": copy_tests}, indent=2))
    elif fmt == "csv":
        click.echo(impact.render_csv(reports), nl=False)
    else:
        click.echo(impact.render_text(reports), nl=False)
        click.echo(render_copy_tests_text(copy_tests), nl=False)
