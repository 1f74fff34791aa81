"""`rules templates`, `rules new`, `rules schema` and `backtest --rules` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from agent.cli import main
from policies.rules.templates import TEMPLATES
from tests.e2e.test_cli_bad_input import assert_clear_error, config_file

REQUIRED_TEMPLATES = {"cpa-stop-loss", "scale-winners", "daily-budget-cap", "weekend-dimming", "fatigue-refresh",
                      "zero-conversion-stop"}


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_templates_lists_one_name_per_line_then_a_description() -> None:
    result = cli("rules", "templates")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == [t.name for t in TEMPLATES]
    assert {t.name for t in TEMPLATES} >= REQUIRED_TEMPLATES
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_every_template_written_by_rules_new_passes_config_check(tmp_path: Path) -> None:
    config = config_file(tmp_path, f"sqlite:///{tmp_path / 'agent.db'}")
    (tmp_path / "rules").mkdir()
    for found in TEMPLATES:
        result = cli("rules", "new", "--template", found.name, "--out", str(tmp_path / "rules" / f"{found.name}.yaml"))
        assert result.exit_code == 0, result.output
    check = cli("config", "check", "--config", str(config))
    assert check.exit_code == 0, check.output
    written = yaml.safe_load((tmp_path / "rules" / "weekend-dimming.yaml").read_text())
    assert [r["name"] for r in written["rules"]] == ["weekend-dimming", "weekend-restore"]


def test_rules_new_refuses_an_unknown_template_and_an_existing_file(tmp_path: Path) -> None:
    assert_clear_error(cli("rules", "new", "--template", "moonshot", "--out", str(tmp_path / "x.yaml")),
                       "unknown template 'moonshot'", "cpa-stop-loss")
    assert not (tmp_path / "x.yaml").exists()
    (tmp_path / "x.yaml").write_text("mine")
    assert_clear_error(cli("rules", "new", "--template", "cpa-stop-loss", "--out", str(tmp_path / "x.yaml")),
                       "already exists")
    assert (tmp_path / "x.yaml").read_text() == "mine"


def test_rules_schema_prints_the_committed_json_schema() -> None:
    committed = json.loads((Path(__file__).resolve().parents[2] / "docs" / "rules.schema.json").read_text())
    assert json.loads(cli("rules", "schema").output) == committed


def test_backtest_refuses_an_invalid_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"rules": [{"name": "x", "when": {"metric": "cpa"}, "then": [{"kind": "pause"}]}]}))
    assert_clear_error(cli("backtest", "--rules", str(path), "--days", "8"), "rule 'x'", "when.window")


def test_backtest_with_rules_runs_them_alone(tmp_path: Path) -> None:
    path = tmp_path / "stop.yaml"
    path.write_text(yaml.safe_dump({"rules": [{
        "name": "stop", "when": {"metric": "roas", "window": "last_7_days", "op": "<", "value": 1.0,
                                 "with_confidence": 0.9}, "then": [{"kind": "pause"}]}]}))
    result = cli("backtest", "--rules", str(path), "--days", "10", "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rules"] == ["stop"] and report["with_policies"] is False
    kinds = report["arms"]["agent"]["actions_by_kind"]
    assert set(kinds) <= {"pause"}, "the built-in policies are off: only the rule acts"
    assert report["churn_per_ad_set_week"] >= 0
