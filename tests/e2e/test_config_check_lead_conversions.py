"""`config check` on a LinkedIn account's `conversion_event` (website or lead gen form leads)."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from agent.cli import main


def _check(tmp_path: Path, event: str) -> tuple[int, str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database_url": "sqlite://", "accounts": [
        {"id": "acme-b2b", "platform": "linkedin", "platform_account_id": "5001", "conversion_event": event}]}))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    return result.exit_code, result.output


def test_a_linkedin_conversion_event_is_website_or_lead(tmp_path: Path) -> None:
    assert _check(tmp_path, "lead")[0] == 0
    code, output = _check(tmp_path, "leads")
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in output
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "accounts[0].conversion_event: linkedin account 'acme-b2b': 'leads' is neither website" in lines[0]
