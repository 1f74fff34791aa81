"""`report impact` (text, JSON, CSV), the weekly section with its alert, and the console page, on a
planted panel whose pauses cost money: the report must say so and recommend lowering the permission."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine
from starlette.testclient import TestClient

from agent.auth.tokens import new_secret
from agent.auth.users import add_user
from agent.bootstrap import connectors_factory
from agent.cli import main
from agent.clock import FixedClock
from agent.config import parse_config
from agent.console.routes import console_routes
from agent.experiments.assign import hold_out
from agent.experiments.settings import ExperimentSettings
from agent.experiments.store import record_draw
from agent.experiments.weekly import weekly_impact
from agent.runtime.server import ServiceStatus, build_app
from agent.storage import store
from agent.storage.action_states import create_action
from agent.storage.audit_trail import action_events
from agent.storage.models import AuditEvent
from connectors.records import MetricRow
from policies.base import PAUSE_CHANGE, Proposal
from policies.holdout import Draw
from tests.integration.conftest import small_config

TODAY = date(2026, 11, 23)
DRAWN = datetime(2026, 10, 20, 12, tzinfo=UTC)
PLANTED = Decimal("-60")  # surplus per paused ad set and day: these pauses lose money
PASSWORD = "correct horse battery staple"


def plant(engine: Engine) -> None:
    """Twelve ad sets of shop-meta (EUR): half paused (treated), half held out; 14 days before and after."""
    rows = []
    with engine.begin() as connection:
        for i in range(12):
            entity_id, arm = f"s{i}", "treated" if i % 2 else "held_out"
            record_draw(connection, action_id=i + 1, account_id="shop-meta", entity_id=entity_id,
                        entity_level="ad_set", kind="pause", draw=Draw(i, 0.5, 0.5, arm), drawn_at=DRAWN,
                        horizon_end=DRAWN + timedelta(days=14), measure_after=DRAWN + timedelta(days=21))
            for offset in range(-14, 14):
                day = DRAWN.date() + timedelta(days=offset)
                wobble = Decimal((i * 7 + offset * 3) % 11 - 5)  # deterministic noise
                value = Decimal(250) + wobble + (PLANTED if arm == "treated" and offset >= 0 else 0)
                rows.append(MetricRow(platform="simulator", account_id="shop-meta", level="ad_set",
                                      entity_id=entity_id, day=day, currency="EUR", spend=Decimal(100),
                                      impressions=1000, clicks=50, conversions=5.0, conversion_value=value))
        store.upsert_metrics(connection, rows, DRAWN)


@pytest.fixture
def config_path(tmp_path: Path, database_url: str, engine: Engine) -> Path:
    plant(engine)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(database_url)))
    return path


def impact(config_path: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["report", "impact", "--config", str(config_path), "--today",
                                       TODAY.isoformat(), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_json_report_gives_the_effect_its_interval_and_the_warning(config_path: Path) -> None:
    report = json.loads(impact(config_path, "--format", "json"))
    assert report["currency"] == "EUR"
    (kind,) = report["kinds"]
    assert (kind["kind"], kind["metric"], kind["n_treated"], kind["n_held_out"]) == ("pause", "surplus", 6, 6)
    per_month = float(PLANTED) * 30.4375 * 6
    assert float(kind["effect_per_month"]) == pytest.approx(per_month, rel=0.1)
    assert float(kind["low"]) < float(kind["effect_per_month"]) < float(kind["high"]) < 0
    assert kind["harmful"]
    assert report["total_per_month"]["effect_per_month"] == kind["effect_per_month"]
    assert any("pause" in line and "lowering its permission" in line for line in report["recommendations"])


def test_text_and_csv_say_the_same(config_path: Path) -> None:
    text = impact(config_path)
    assert "pause" in text and "EUR/month" in text and "90% interval" in text and "WARNING" in text
    rows = list(csv.DictReader(io.StringIO(impact(config_path, "--format", "csv"))))
    assert [(r["kind"], r["n_treated"], r["harmful"]) for r in rows] == [("pause", "6", "yes")]
    since_after = json.loads(impact(config_path, "--format", "json", "--since", "2026-11-01"))
    assert since_after["kinds"] == []


def test_a_bad_since_date_exits_2(config_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "impact", "--config", str(config_path), "--since", "2026-13-01"])
    assert result.exit_code == 2


def test_the_weekly_section_raises_an_alert_in_the_audit_trail(config_path: Path, database_url: str,
                                                               engine: Engine) -> None:
    config = parse_config(small_config(database_url), environ={})
    section, alerts = weekly_impact(engine, config, FixedClock.at_day(TODAY).now())
    assert "What the agent's actions earned" in section and "pause" in section
    assert len(alerts) == 1 and "lowering its permission" in alerts[0]
    with engine.connect() as connection:
        events = connection.execute(AuditEvent.__table__.select().where(AuditEvent.event == "impact_alert")).all()
        assert len(events) == 1
        assert action_events(connection, 1) == []  # the alert is about the kind, not an action


def test_the_console_page_shows_the_figures_and_the_warning(config_path: Path, database_url: str,
                                                            engine: Engine) -> None:
    raw = small_config(database_url, service={"session_secret": new_secret()})
    config = parse_config(raw, environ={})
    clock = FixedClock.at_day(TODAY)
    held = Proposal(kind="pause", policy="underperformers", account_id="shop-meta", entity_id="s99",
                    entity_level="ad_set", entity_name="Held back ad set", change=dict(PAUSE_CHANGE), rationale="r")
    with engine.begin() as connection:
        action_id = create_action(connection, held, cycle_id=None, permission="auto", dry_run=False, now=clock.now())
        assert hold_out(connection, held, action_id, ExperimentSettings(holdout_share={"pause": 0.999999}),
                        cycle_id=None, now=clock.now())
    add_user(engine, "vic@example.com", PASSWORD, "viewer", [], clock.now())
    app = build_app(engine, config, ServiceStatus(), now=clock.now,
                    console_routes=console_routes(engine, config, clock, connectors_factory(config, clock, engine)))
    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    client.post("/login", data={"csrf_token": token.group(1), "email": "vic@example.com", "password": PASSWORD,
                                "next": "/"})
    page = client.get("/impact")
    assert page.status_code == 200
    assert "How sure" in page.text or "how sure we are" in page.text
    assert "pause" in page.text and "Warning" in page.text and "EUR" in page.text
    assert "Held back ad set" in page.text
