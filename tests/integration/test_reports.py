"""Dashboard and pacing report from a simulated month: the numbers a marketer reads are there."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from click.testing import CliRunner
from sqlalchemy import Engine

from agent.cli import main
from agent.cycle.run import run_cycle
from agent.reports.dashboard import render
from agent.reports.data import build_dashboard
from agent.reports.pacing import pacing_reports, render_text
from tests.integration.conftest import TODAY, make_world, small_config

BUDGETS = {"shop-meta": 30000, "shop-search": 20000}


def budgeted(database_url: str) -> dict[str, object]:
    raw = small_config(database_url)
    for account in raw["accounts"]:  # type: ignore[union-attr]
        account["monthly_budget"] = BUDGETS[account["id"]]
    return raw


def test_dashboard_shows_yesterday_per_account_with_charts_and_queue(engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, **{k: v for k, v in budgeted(database_url).items()
                                                if k != "database_url"})
    run_cycle(engine, world.config, world.connectors, world.clock)
    dashboard = build_dashboard(engine, world.config, world.clock)
    meta = next(a for a in dashboard.accounts if a.account_id == "shop-meta")
    assert meta.day == TODAY - timedelta(days=1)
    assert meta.total.day.spend == sum((line.day.spend for line in meta.ad_sets), Decimal(0)) > 0
    assert meta.pacing is not None and meta.pacing.monthly_budget == Decimal(30000)
    html = render(dashboard)
    assert f"{meta.total.day.spend:,.2f}" in html
    assert html.count("<svg") >= 4 and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert {"EUR", "USD"} <= set(dashboard.blended)
    pending = [p["id"] for p in dashboard.pending]
    assert all(f'id="action-{i}"' in html for i in pending)


def test_pacing_report_text_and_cli(tmp_path: Path, engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, **{k: v for k, v in budgeted(database_url).items()
                                                if k != "database_url"})
    run_cycle(engine, world.config, world.connectors, world.clock)
    reports = pacing_reports(engine, world.config, world.clock)
    assert {r.account_id for r in reports} == set(BUDGETS)
    for report in reports:
        assert report.projected_month_end_spend >= report.spent_to_date
        assert report.variance == report.projected_month_end_spend - report.monthly_budget
    text = render_text(reports)
    assert "recommended daily budget" in text and "30,000.00" in text

    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(budgeted(database_url)))
    out = tmp_path / "dashboard.html"
    result = CliRunner().invoke(main, ["report", "dashboard", "--out", str(out), "--config", str(config_path),
                                       "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert re.search(r"Daily performance dashboard", out.read_text())
    pacing = CliRunner().invoke(main, ["report", "pacing", "--config", str(config_path), "--today",
                                       TODAY.isoformat()])
    assert pacing.exit_code == 0 and "shop-meta" in pacing.output
