"""The copy-tests section of `report impact` (text and JSON) and of the console's /impact page, on a
planted set of tests whose calibration is known."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine
from starlette.testclient import TestClient

from agent.auth.tokens import new_secret
from agent.auth.users import add_user
from agent.bootstrap import connectors_factory
from agent.clock import FixedClock
from agent.config import parse_config
from agent.console.routes import console_routes
from agent.experiments.copy_test_store import insert_test
from agent.experiments.weekly import weekly_impact
from agent.runtime.server import ServiceStatus, build_app
from tests.integration.conftest import small_config
from tests.integration.test_impact_report import impact  # same day, same command

TODAY = date(2026, 11, 23)
CREATED = datetime(2026, 11, 1, 12, tzinfo=UTC)
PASSWORD = "correct horse battery staple"

# (platform, predicted, low, high, observed, outcome): meta covers 2 of 3, google 1 of 2
PLANTED = [
    ("meta", 0.010, 0.008, 0.012, 0.011, "challenger_wins"),
    ("meta", 0.020, 0.015, 0.025, 0.014, "control_wins"),
    ("meta", 0.030, 0.025, 0.035, 0.030, "challenger_wins"),
    ("google_ads", 0.040, 0.030, 0.050, 0.045, "challenger_wins"),
    ("google_ads", 0.050, 0.040, 0.060, 0.030, "control_wins"),
]


def plant(engine: Engine) -> None:
    with engine.begin() as connection:
        for number, (platform, predicted, low, high, observed, outcome) in enumerate(PLANTED):
            account = "shop-meta" if platform == "meta" else "shop-search"
            insert_test(connection, {
                "account_id": account, "platform": platform, "ad_set_id": f"s{number}", "draft_action_id": number + 1,
                "challenger_ad_id": f"new{number}", "incumbent_ad_id": f"old{number}", "status": "ended",
                "created_at": CREATED, "started_on": date(2026, 11, 2), "ended_at": CREATED,
                "predicted_ctr": predicted, "predicted_low": low, "predicted_high": high, "interval_level": 0.8,
                "observed_ctr": observed, "incumbent_ctr": 0.02, "outcome": outcome, "counts": {"days_running": 9}})
        # still running, and one refused: counted by status, never in the calibration
        insert_test(connection, {"account_id": "shop-meta", "platform": "meta", "ad_set_id": "s9",
                                 "draft_action_id": 99, "challenger_ad_id": "new9", "incumbent_ad_id": "old9",
                                 "status": "running", "created_at": CREATED, "predicted_ctr": 0.01,
                                 "predicted_low": 0.001, "predicted_high": 0.002, "observed_ctr": 0.5})
        insert_test(connection, {"account_id": "shop-meta", "platform": "meta", "ad_set_id": "s8",
                                 "draft_action_id": 98, "challenger_ad_id": "new8", "status": "not_launched",
                                 "created_at": CREATED, "reason": "launch rejected: no"})


@pytest.fixture
def config_path(tmp_path: Path, database_url: str, engine: Engine) -> Path:
    plant(engine)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(database_url)))
    return path


def test_report_impact_gives_the_calibration_per_platform(config_path: Path) -> None:
    section: dict[str, Any] = json.loads(impact(config_path, "--format", "json"))["copy_tests"]
    assert section["tests_by_status"] == {"ended": 5, "not_launched": 1, "running": 1}
    assert section["decided"] == 5 and section["challenger_kept"] == 3
    by_platform = {c["platform"]: c for c in section["calibration"]}
    assert set(by_platform) == {"meta", "google_ads"}
    assert by_platform["meta"]["tests"] == 3 and by_platform["meta"]["coverage"] == pytest.approx(0.6667, abs=1e-4)
    assert by_platform["meta"]["bias"] == pytest.approx((0.001 - 0.006 + 0.0) / 3, abs=1e-6)
    assert by_platform["google_ads"]["coverage"] == 0.5
    assert by_platform["google_ads"]["bias"] == pytest.approx((0.005 - 0.020) / 2, abs=1e-6)
    assert by_platform["google_ads"]["interval_level"] == 0.8
    # what the launches now do to new predictions: the mean log error, shrunk by n / (n + 5)
    google_errors = math.log(0.045 / 0.040) + math.log(0.030 / 0.050)
    assert by_platform["google_ads"]["feedback_log_shift"] == pytest.approx(google_errors / 2 * 2 / 7, abs=1e-4)

    text = impact(config_path)
    assert "Copy tests" in text and "the new copy kept in 3" in text
    assert "calibration meta" in text and "67% of observed CTRs inside the predicted 80% interval" in text
    assert "-0.75 CTR points" in text  # google: (0.5 - 2.0) / 2 points
    assert "new predictions moved by -5.6% in log" in text  # google: (0.118 - 0.511) / 2 x 2 / 7


def test_the_weekly_section_carries_the_copy_tests(config_path: Path, database_url: str, engine: Engine) -> None:
    config = parse_config(small_config(database_url), environ={})
    section, _ = weekly_impact(engine, config, FixedClock.at_day(TODAY).now())
    assert "What the agent's actions earned" in section and "Copy tests" in section
    assert "calibration google_ads" in section and "50% of observed CTRs" in section


def test_the_console_page_shows_the_copy_tests(config_path: Path, database_url: str, engine: Engine) -> None:
    config = parse_config(small_config(database_url, service={"session_secret": new_secret()}), environ={})
    clock = FixedClock.at_day(TODAY)
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
    assert "Copy tests" in page.text and "google_ads" in page.text
    assert "67%" in page.text and "-0.75 points" in page.text and "control wins" in page.text
