"""The accounts' `objective:`: validated, merged into the policies' settings, checked against the platform."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from agent.cli import main
from agent.config import parse_config
from agent.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def example() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


def _linkedin(raw: dict[str, Any]) -> int:
    return next(i for i, a in enumerate(raw["accounts"]) if a.get("simulate") == "linkedin")


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, environ={})
    return caught.value.problems


def test_an_objective_without_a_target_is_an_error_naming_the_account() -> None:
    raw = example()
    raw["accounts"][0]["objective"] = {"kind": "cpql"}
    (problem,) = problems_of(raw)
    assert problem.startswith("accounts[0].objective:")
    assert "objective cpql needs a target" in problem


def test_an_unknown_objective_kind_is_an_error() -> None:
    raw = example()
    raw["defaults"]["objective"] = {"kind": "likes", "target": 3}
    assert any(p.startswith("defaults.objective.kind:") for p in problems_of(raw))


def test_the_objective_overrides_the_policies_roas_target_and_an_account_overrides_defaults() -> None:
    raw = example()
    raw["defaults"]["objective"] = {"kind": "platform_cpa", "target": 90}
    raw["accounts"][_linkedin(raw)]["objective"] = {"kind": "pipeline_roas", "target": 4}
    raw["outcomes"] = {"qualified_stage": "mql"}
    config = parse_config(raw, environ={})
    first = config.policy_settings(config.accounts[0]).objective
    assert first is not None and (first.kind, first.target) == ("platform_cpa", 90)
    linkedin = config.policy_settings(config.accounts[_linkedin(raw)]).objective
    assert linkedin is not None and (linkedin.kind, linkedin.target, linkedin.qualified_stage) == (
        "pipeline_roas", 4, "mql")


def test_platform_roas_on_linkedin_lead_gen_is_an_error_naming_the_account() -> None:
    raw = example()
    index = _linkedin(raw)
    raw["defaults"]["objective"] = {"kind": "platform_roas", "target": 3}
    (problem,) = problems_of(raw)
    assert f"accounts[{index}] {raw['accounts'][index]['id']!r}" in problem
    assert "reports no conversion value" in problem and "platform_cpa" in problem
    raw["accounts"][index]["objective"] = {"kind": "platform_cpa", "target": 150}
    parse_config(raw, environ={})  # the account's own objective settles it


def test_config_check_warns_about_a_linkedin_account_without_objective(tmp_path: Path) -> None:
    raw = example()
    raw["database_url"] = f"sqlite:///{tmp_path / 'db.sqlite'}"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert f"warning: account {raw['accounts'][_linkedin(raw)]['id']!r}: linkedin reports no conversion value" in (
        result.output)


def test_meta_lead_ads_cannot_be_judged_on_platform_roas_but_meta_purchases_can() -> None:
    raw = example()
    meta = next(i for i, a in enumerate(raw["accounts"]) if a.get("simulate") == "meta")
    raw["accounts"][meta]["objective"] = {"kind": "platform_roas", "target": 3}
    parse_config(raw, environ={})
    raw["accounts"][meta]["conversion_event"] = "lead"
    (problem,) = problems_of(raw)
    assert "meta lead gen reports no conversion value" in problem
