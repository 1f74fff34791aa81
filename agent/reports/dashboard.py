"""Render the daily dashboard (HTML, Jinja2, inline SVG) from the store."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AgentConfig
from agent.outcomes.dashboard import outcomes_section
from agent.reports import svg
from agent.reports.data import Dashboard, build_dashboard
from agent.reports.segments import segments_section
from policies import PacingReport

TEMPLATES = Path(__file__).parent / "templates"


def _money(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}%"


def _change(value: float | None) -> str:
    if value is None:
        return '<span class="muted">–</span>'
    css = "up" if value > 0 else "down" if value < 0 else "muted"
    return f'<span class="{css}">{value:+.0f}%</span>'


def _describe(change: Mapping[str, Any]) -> str:
    before, after = change.get("from", {}), change.get("to", {})
    keys = sorted(set(before) | set(after))
    return "; ".join(f"{k}: {before.get(k, '–')} → {after.get(k, '–')}" for k in keys)


def _pacing_bar(report: PacingReport) -> str:
    return svg.pacing_bar(float(report.spent_to_date), float(report.projected_month_end_spend),
                          float(report.monthly_budget))


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.globals.update(money=_money, ratio=_ratio, percent=_percent, pct=_pct, change=_change, describe=_describe,
                       pacing_bar=_pacing_bar, line_chart=svg.line_chart)
    return env


def render(dashboard: Dashboard, outcomes: Mapping[str, Any] | None = None,
           segments: Mapping[str, Any] | None = None) -> str:
    return environment().get_template("dashboard.html.j2").render(d=dashboard, outcomes=outcomes, segments=segments)


def render_dashboard(engine: Engine, config: AgentConfig, clock: Clock) -> str:
    return render(build_dashboard(engine, config, clock), outcomes_section(engine, config),
                  segments_section(engine, config, clock))
