"""The served dashboard in a real browser (headless Chromium): key numbers present, no console
errors, and a screenshot kept as a test artifact."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from agent.clock import SystemClock
from agent.config import load_config
from agent.reports.data import build_dashboard
from tests.integration.test_service import Service, free_port, wait_for, write_config

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0"]


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("Chromium is required for the dashboard test: apt-get install chromium (make test does it)",
                    pytrace=False)
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90)


def test_served_dashboard_in_chromium(tmp_path: Path, database_url: str, services: list[Service]) -> None:
    port = free_port()
    config_path = write_config(tmp_path, database_url, port)
    # Rendering only: headless Chromium's command line cannot sign in. Authentication of these very
    # pages is tested in test_http_auth.py and test_service_http.py.
    config_path.write_text(config_path.read_text().replace("service:\n", "service:\n  insecure_no_auth: true\n", 1))
    service = Service(config_path, port)
    services.append(service)
    wait_for(lambda: service.get("/readyz")[0] == 200, 40, "a first cycle")
    url = f"http://127.0.0.1:{port}/dashboard"

    dom = chromium(["--dump-dom", url], tmp_path / "profile-dom")
    assert "Daily performance dashboard" in dom.stdout, dom.stderr[-2000:]
    config = load_config(config_path)
    engine = sa.create_engine(database_url)
    try:
        expected = build_dashboard(engine, config, SystemClock())
    finally:
        engine.dispose()
    for account in expected.accounts:
        assert account.name in dom.stdout
        assert f"{account.total.day.spend:,.2f}" in dom.stdout
    console_errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and "rror" in line]
    assert console_errors == []

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"dashboard-{database_url.split(':')[0]}.png"
    shot = chromium([f"--screenshot={screenshot}", "--window-size=1280,2000", url], tmp_path / "profile-shot")
    assert screenshot.exists() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    assert service.stop() == 0
