"""`config check` validates each account's connector fields against its connector's spec, and
reading the config loads no platform SDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from agent.cli import main

GOOD = {"google_ads": "123-456-7890", "meta": "act_1234", "linkedin": "urn:li:sponsoredAccount:5001"}
NAMES = {"google_ads": "acme-search", "meta": "acme-social", "linkedin": "acme-b2b"}


def config_check(tmp_path: Path, accounts: list[dict[str, Any]]) -> Result:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database_url": "sqlite://", "accounts": accounts}))
    return CliRunner().invoke(main, ["config", "check", "--config", str(path)])


def account(platform: str, platform_account_id: str, **fields: str) -> dict[str, Any]:
    return {"id": NAMES[platform], "platform": platform, "platform_account_id": platform_account_id, **fields}


@pytest.mark.parametrize(("platform", "expected"), [
    ("google_ads", "customer id 'abc-not-digits' must be 10 digits"),
    ("meta", "ad account id 'abc-not-digits' must be act_<digits>"),
    ("linkedin", "ad account id 'abc-not-digits' must be numeric"),
])
def test_a_platform_account_id_the_connector_cannot_use_is_refused_naming_account_and_field(
        tmp_path: Path, platform: str, expected: str) -> None:
    result = config_check(tmp_path, [account(platform, "abc-not-digits")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith("error: ") and "Traceback" not in result.output
    assert f"accounts[0].platform_account_id: {platform} account '{NAMES[platform]}': {expected}" in line


def test_every_connector_field_problem_is_listed_one_line_each(tmp_path: Path) -> None:
    result = config_check(tmp_path, [account("google_ads", "12-ab"), account("meta", "act_x", conversion_event="Leads!"),
                                     account("linkedin", GOOD["linkedin"])])
    assert result.exit_code == 2, result.output
    lines = [line.strip() for line in result.output.splitlines() if line.strip()]
    assert lines[0].endswith("(3 problems):")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "accounts[0].platform_account_id", "accounts[1].platform_account_id", "accounts[1].conversion_event"]
    assert "acme-search" in lines[1] and "acme-social" in lines[2] and "neither purchase, lead" in lines[3]


def test_good_connector_fields_pass(tmp_path: Path) -> None:
    result = config_check(tmp_path, [account(platform, GOOD[platform]) for platform in GOOD])
    assert result.exit_code == 0, result.output
    assert "OK (3 accounts)" in result.output


def test_reading_the_config_loads_no_platform_sdk() -> None:
    script = (
        "import sys\n"
        "from agent.config import parse_config\n"
        "parse_config({'accounts': [{'id': 'a', 'platform': 'meta', 'platform_account_id': 'act_1'},"
        " {'id': 'b', 'platform': 'google_ads', 'platform_account_id': '1234567890'}]}, environ={})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'facebook_business' or m.startswith('google.ads')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
