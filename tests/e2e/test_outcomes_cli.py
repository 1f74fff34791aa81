"""The demo's path end to end: a cycle on the simulated world, its CRM export, the import, the report."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from agent.cli import main
from tests.integration.conftest import TODAY, small_config


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_crm_export_import_and_report_by_platform(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    raw = small_config(f"sqlite:///{tmp_path / 'agent.db'}", reporting={"fx_rates": {"EUR": "1.1"}})
    config.write_text(yaml.safe_dump(raw))
    common = ["--config", str(config)]
    assert cli("run", "--once", *common, "--today", TODAY.isoformat()).exit_code == 0
    export = tmp_path / "crm.csv"
    first = cli("sim", "crm-export", "--out", str(export), "--days", "30", *common, "--today", TODAY.isoformat())
    assert first.exit_code == 0, first.output
    content = export.read_bytes()
    cli("sim", "crm-export", "--out", str(export), "--days", "30", *common, "--today", TODAY.isoformat())
    assert export.read_bytes() == content  # deterministic for the seed
    imported = cli("outcomes", "import", str(export), "--json", *common)
    assert imported.exit_code == 0, imported.output
    result = json.loads(imported.output)
    assert [r["reason"] for r in result["rejected"]] == [
        "unknown stage 'demo_booked' (one of lead, mql, sql, opportunity, won, lost)",
        "sql has no timestamp", "amount '12k' is not a number"]
    assert result["attribution"]["click_id"] > 10 * result["attribution"].get("unattributed", 0)
    report = json.loads(cli("report", "outcomes", "--format", "json", *common).output)
    assert [row["platform"] for row in report["rows"]] == ["google_ads", "meta"]
    for row in report["rows"]:
        assert row["leads"] > 0 and row["currency"] == "USD" and float(row["spend"]) > 0
        assert row["cpql"] is None or float(row["cpql"]) > 0
    again = json.loads(cli("outcomes", "import", str(export), "--json", *common).output)
    assert again["inserted"] == again["updated"] == 0
    text = cli("report", "outcomes", "--by", "ad_set", *common)
    assert text.exit_code == 0 and "CPQL" in text.output and "unattributed:" in text.output
