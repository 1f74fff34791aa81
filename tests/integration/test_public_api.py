"""The public Python surface (agent/api.py): a script loads a config, runs one cycle on the
simulator for a given day, and reads what is waiting for approval, without the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent import api
from tests.integration.conftest import TODAY, small_config


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(f"sqlite:///{tmp_path / 'agent.db'}")))
    return path


def test_a_script_runs_one_cycle_and_reads_the_pending_actions(tmp_path: Path) -> None:
    config = api.load_config(write_config(tmp_path))

    summary = api.run_one_cycle(config, TODAY)

    assert summary.status == "ok", summary.errors
    assert summary.accounts == 2 and summary.accounts_failed == 0
    assert summary.metric_rows_upserted > 0  # the simulator's history is stored
    pending = api.pending_actions(config)
    assert pending, "the default permissions leave some changes to a person"
    assert len(pending) == summary.actions_by_state["pending_approval"]
    assert {a["account_id"] for a in pending} <= {"shop-meta", "shop-search"}
    assert all(a["state"] == "pending_approval" and a["rationale"] for a in pending)


def test_a_dry_run_changes_nothing_on_the_platform(tmp_path: Path) -> None:
    config = api.load_config(write_config(tmp_path))
    before = {e.entity_id: (e.status, e.daily_budget)
              for e in api.build_connectors(config, TODAY)["simulator"].entities("shop-meta")}

    summary = api.run_one_cycle(config, TODAY, dry_run=True)

    assert summary.dry_run and summary.metric_rows_upserted > 0 and not summary.execution["executed"]
    after = {e.entity_id: (e.status, e.daily_budget)
             for e in api.build_connectors(config, TODAY)["simulator"].entities("shop-meta")}
    assert after == before


def test_a_bad_config_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'agent.db'}", "accounts": "none"}))

    with pytest.raises(api.ConfigError) as raised:
        api.load_config(path)

    assert "accounts" in str(raised.value)


def test_the_surface_is_what_it_documents() -> None:
    assert sorted(api.__all__) == sorted(name for name in api.__all__ if hasattr(api, name))
    assert {"load_config", "run_one_cycle", "build_connectors", "pending_actions"} <= set(api.__all__)
