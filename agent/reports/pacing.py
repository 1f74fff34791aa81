"""The weekly pacing report: budget, spent to date, projected month end, variance, recommended
daily budget, per account. Plain text (email, Slack) and HTML."""

from __future__ import annotations

from html import escape

from sqlalchemy import Engine

from agent.clock import Clock, local_today
from agent.config import AgentConfig
from agent.decisions.gate import kinds_on_auto
from agent.decisions.snapshots import load_snapshot
from policies import PacingReport, pacing_outlook

COLUMNS = ("account", "currency", "budget", "spent to date", "projected month end", "variance",
           "recommended daily budget", "status")


def pacing_reports(engine: Engine, config: AgentConfig, clock: Clock) -> list[PacingReport]:
    """One report per account that has a monthly budget and data: the pacing policy's own
    projection (`policies.pacing_outlook`), counting only the sibling pauses that run on auto."""
    reports = []
    for account in config.accounts:
        if account.monthly_budget is None:
            continue
        snapshot = load_snapshot(engine, account, local_today(clock, account.timezone), clock)
        report = pacing_outlook(snapshot, config.policy_settings(account), kinds_on_auto(account, config))
        if report is not None:
            reports.append(report)
    return reports


def _cells(report: PacingReport) -> tuple[str, ...]:
    return (report.account_id, report.currency, f"{report.monthly_budget:,.2f}", f"{report.spent_to_date:,.2f}",
            f"{report.projected_month_end_spend:,.2f}", f"{report.variance:+,.2f} ({report.variance_pct:+.1%})",
            f"{report.recommended_daily_budget:,.2f}", _status(report))


def _status(report: PacingReport) -> str:
    """The status; an under-spend chosen because more would not pay says so, and how much."""
    status = report.status.replace("_", " ")
    if report.underspend_reason:
        status += f" by choice: {report.underspend_reason} ({report.held_back:,.2f} held back)"
    return status


def render_text(reports: list[PacingReport]) -> str:
    if not reports:
        return "Weekly pacing report: no account has a monthly budget and data yet.\n"
    rows = [COLUMNS, *(_cells(r) for r in reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [f"Weekly pacing report ({reports[0].today:%B %Y}, day {reports[0].days_elapsed})", ""]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
    return "\n".join(lines) + "\n"


def render_html(reports: list[PacingReport]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in _cells(r)) + "</tr>" for r in reports)
    title = f"Weekly pacing report ({reports[0].today:%B %Y})" if reports else "Weekly pacing report"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
            f"<body><h1>{escape(title)}</h1><table border=\"1\" cellpadding=\"4\"><tr>{head}</tr>{body}</table>"
            "</body></html>")
