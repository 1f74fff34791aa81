"""Config validation: every problem names its key; secrets never print."""

from __future__ import annotations

import copy
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from agent.cli import permission_table
from agent.config import load_config, parse_config
from agent.decisions.gate import permission_matrix
from agent.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def example() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


def problems_of(raw: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, environ=environ or {})
    return caught.value.problems


def test_example_config_is_valid_and_merges_account_overrides() -> None:
    config = load_config(EXAMPLE, environ={})
    assert [a.id for a in config.accounts] == ["acme-search", "acme-social", "acme-b2b", "acme-japan"]
    social = config.account("acme-social")
    assert config.policy_settings(social).underperformers.target_roas == 1.8
    # the override changes one key only; the rest comes from the defaults
    assert config.policy_settings(social).underperformers.window_days == (
        config.defaults.policies.underperformers.window_days
    )
    assert config.account("acme-search").monthly_budget == Decimal("45000")


def test_permission_matrix_defaults_to_propose_and_honours_overrides() -> None:
    matrix = permission_matrix(load_config(EXAMPLE, environ={}))
    assert matrix["acme-b2b"]["pause"] == "observe"
    assert matrix["acme-search"]["pause"] == "propose"
    assert matrix["acme-search"]["new_ad"] == "propose"


def test_invalid_time_zone_names_the_account_index_and_value() -> None:
    raw = example()
    raw["accounts"][1]["timezone"] = "Europe/Pariss"
    assert problems_of(raw) == ["accounts[1].timezone: unknown time zone 'Europe/Pariss'"]


def test_unknown_key_is_an_error_not_a_silent_default() -> None:
    raw = example()
    raw["lookback_dayz"] = 7
    raw["accounts"][0]["monthly_budgt"] = 5
    problems = problems_of(raw)
    assert any(p.startswith("lookback_dayz: unknown key") for p in problems)
    assert any(p.startswith("accounts[0].monthly_budgt: unknown key") for p in problems)


def test_wrong_type_names_the_key_and_the_value() -> None:
    raw = example()
    raw["lookback_days"] = "a week"
    (problem,) = problems_of(raw)
    assert problem.startswith("lookback_days: ") and "'a week'" in problem


def test_negative_budget_is_rejected() -> None:
    raw = example()
    raw["accounts"][2]["monthly_budget"] = -100
    (problem,) = problems_of(raw)
    assert problem.startswith("accounts[2].monthly_budget: ") and "positive" in problem


def test_bad_policy_override_names_the_account() -> None:
    raw = example()
    raw["accounts"][0]["policies"] = {"underperformers": {"target_roas": -1}}
    (problem,) = problems_of(raw)
    assert problem.startswith("accounts[0].policies.underperformers.target_roas: ")


def test_missing_environment_variable_is_named() -> None:
    raw = example()
    raw["accounts"][0]["credentials"] = {"token": "${ACME_TOKEN}"}
    assert problems_of(raw) == [
        "accounts[0].credentials.token: environment variable ACME_TOKEN is not set (nor in the secrets file)"
    ]


def test_secret_is_resolved_but_never_printed(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# comment\nACME_TOKEN=s3cr3t-value\n")
    raw = example()
    raw["secrets_file"] = str(secrets)
    raw["accounts"][0]["credentials"] = {"token": "${ACME_TOKEN}"}
    config = parse_config(raw, environ={})
    token = config.accounts[0].credentials["token"]
    assert token.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(config) and "s3cr3t-value" not in str(config.model_dump())


def test_simulator_account_must_say_what_it_simulates() -> None:
    raw = example()
    del raw["accounts"][0]["simulate"]
    (problem,) = problems_of(raw)
    assert problem.startswith("accounts[0]: ") and "simulate" in problem


def test_duplicate_account_ids_are_rejected() -> None:
    raw = example()
    raw["accounts"][1]["id"] = raw["accounts"][0]["id"]
    (problem,) = problems_of(raw)
    assert "duplicate account id 'acme-search'" in problem


def test_missing_file_and_broken_yaml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("accounts: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_the_permission_table_keeps_every_kind_whole_and_groups_accounts_with_one_profile() -> None:
    kinds = ["pause", "set_budget", "set_device_bid_modifier", "exclude_company_size"]
    matrix = {f"client-{n:04d}": {k: "propose" for k in kinds} for n in range(2000)}
    matrix["client-0007"] = {**matrix["client-0007"], "pause": "auto"}
    out = StringIO()
    Console(file=out, width=100).print(permission_table(matrix))
    text = out.getvalue()
    assert all(kind in text for kind in kinds)  # no kind cut to "set_de…" however many there are
    assert "client-0000, client-0001, client-0002 (+1996 more)" in text
    assert "client-0007" in text and "auto" in text
    assert len(text.splitlines()) < 15  # two columns of accounts, not 2,000
