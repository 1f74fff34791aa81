"""A small backtest on one seed: the agent acts, pauses only true losers early, and beats doing nothing."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from agent.backtesting.arms import DEFAULT_START, run_backtest
from agent.backtesting.cycle_arm import CycleArm, backtest_config, run_cycle_backtest
from agent.commands.backtest import backtest_command
from agent.config import AgentConfig
from connectors.simulator.world import DEMO_SPECS, SimAccountSpec

SPECS = (SimAccountSpec("bt-meta", "meta", "Backtest Meta", "EUR", "Europe/Berlin", campaigns=2, ad_sets_per_campaign=3),
         SimAccountSpec("bt-google", "google_ads", "Backtest Google", "USD", "America/New_York", campaigns=2,
                        ad_sets_per_campaign=2))


def test_a_short_backtest_compares_four_arms_on_the_same_world() -> None:
    report = run_backtest(3, days=21, specs=SPECS)
    assert set(report.arms) == {"none", "naive", "oracle", "agent"}
    assert report.ad_sets == 10
    none, oracle, agent = report.arms["none"], report.arms["oracle"], report.arms["agent"]
    assert none.actions == 0 and none.surplus == none.conversion_value - 2.0 * none.spend
    # The oracle pauses exactly the true losers, so it never pauses wrongly and earns more than nothing.
    assert oracle.false_pauses == 0 and oracle.surplus > none.surplus
    # The agent acts, pauses at most one ad set wrongly, and does better than doing nothing.
    assert agent.actions > 0
    assert agent.false_pauses <= 1
    assert agent.surplus > none.surplus
    assert all(p.day_index >= 7 for p in report.pause_log if p.arm == "agent")  # not during learning
    assert json.loads(json.dumps(report.as_dict()))["arms"]["agent"]["actions"] == agent.actions


def test_backtest_restricted_to_one_policy_only_takes_its_actions() -> None:
    report = run_backtest(3, days=14, specs=SPECS, policies=["negative_keywords"])
    assert set(report.arms["agent"].actions_by_kind) <= {"add_negative_keywords"}


def test_backtest_command_prints_json_and_rejects_bad_input() -> None:
    runner = CliRunner()
    result = runner.invoke(backtest_command, ["--days", "10", "--seed", "5", "--policy", "pacing", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["policies"] == ["pacing"]
    assert runner.invoke(backtest_command, ["--days", "3"]).exit_code != 0


def _config(**defaults: object) -> AgentConfig:
    return AgentConfig.model_validate({"accounts": [{"id": "bt-meta", "platform": "simulator", "simulate": "meta"}],
                                       "defaults": defaults})


def test_the_cycle_backtest_goes_through_the_gate_and_the_permissions() -> None:
    report = run_cycle_backtest(3, 12, specs=SPECS)
    agent = report.arms["agent"]
    assert agent.actions_by_kind.get("set_budget", 0) > 0  # every kind on auto by default
    assert all(p.day_index >= 7 for p in report.pause_log if p.arm == "agent")
    # Budgets on observe: the gate records them, the executor never applies one.
    observed = run_cycle_backtest(3, 12, specs=SPECS, config=_config(permissions={"set_budget": "observe"}))
    assert "set_budget" not in observed.arms["agent"].actions_by_kind
    assert observed.arms["none"] == report.arms["none"]  # the same world


def test_the_cycle_backtest_keeps_the_guardrails() -> None:
    # A 4% per-change guardrail: the policies aim under it, and nothing above it is ever applied.
    report = run_cycle_backtest(3, 12, specs=SPECS, config=_config(guardrails={"max_budget_change_pct": 4}))
    assert report.arms["agent"].actions_by_kind.get("set_budget", 0) == 0  # below the 5% materiality: no move


def test_backtest_command_takes_a_config_and_a_world(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("accounts:\n  - {id: x, platform: simulator, simulate: meta}\n"
                      "defaults:\n  permissions: {pause: observe}\n")
    runner = CliRunner()
    result = runner.invoke(backtest_command, ["--days", "8", "--seed", "5", "--config", str(config),
                                              "--world", "demo", "--json"])
    assert result.exit_code == 0, result.output
    assert "pause" not in json.loads(result.output)["arms"]["agent"]["actions_by_kind"]
    assert runner.invoke(backtest_command, ["--days", "10", "--world", "moon"]).exit_code == 2
    config.write_text("accounts: 3\n")
    assert runner.invoke(backtest_command, ["--days", "10", "--config", str(config)]).exit_code == 2


def test_the_backtest_tells_its_progress_day_by_day() -> None:
    told: list[tuple[int, int]] = []
    run_backtest(3, days=10, specs=SPECS, policies=["pacing"], on_day=lambda done, total: told.append((done, total)))
    assert told == [(day, 9) for day in range(1, 10)]


def test_the_cycle_backtest_uses_the_daemons_database_setup(tmp_path: Path) -> None:
    # With SQLite's defaults (rollback journal, 5 s busy timeout) a loaded machine made accounts' turns
    # fail on "database is locked", so a backtest's figures depended on the machine's load.
    arm = CycleArm(1, DEMO_SPECS[:1], DEFAULT_START, backtest_config(DEMO_SPECS[:1]), tmp_path / "arm.db")
    with arm.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert (connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 30_000
