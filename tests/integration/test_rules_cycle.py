"""User rules in the simulated world, end to end: a rule on `auto` pauses an ad set through the daemon's
cycle (gate, executor, audit), `rules trace` explains why; a dry-run rule only reports; `rules test`
shows what a rule would do without changing anything; an invalid rule is refused by `config check`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from sqlalchemy import Engine, select

from agent.cli import main
from agent.cycle.run import run_cycle
from agent.storage.models import Action
from policies import POLICY_NAMES
from tests.integration.conftest import make_world, small_config

NO_POLICIES = {name: {"enabled": False} for name in POLICY_NAMES}
STOP_LOSS: dict[str, Any] = {
    "name": "stop-loss",
    "when": {"all": [{"metric": "roas", "window": "last_14_days", "op": "<", "value": 2.0, "with_confidence": 0.9},
                     {"metric": "spend", "window": "last_14_days", "op": ">", "value": 50}]},
    "then": [{"kind": "pause"}],
}


def settings(rule: dict[str, Any], pause: str = "auto") -> dict[str, Any]:
    return {"defaults": {"policies": NO_POLICIES, "permissions": {"pause": pause}}, "rules": [rule]}


def config_file(tmp_path: Path, database_url: str, **overrides: Any) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(database_url, **overrides)))
    return path


def rule_actions(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(Action.__table__).where(Action.policy.like("rule:%"))))


def test_a_rule_on_auto_pauses_an_ad_set_and_the_trace_explains_it(tmp_path: Path, database_url: str,
                                                                     engine: Engine) -> None:
    world = make_world(engine, database_url, **settings(STOP_LOSS))
    summary = run_cycle(engine, world.config, world.connectors, world.clock)

    actions = rule_actions(engine)
    assert actions, "the seeded world has an ad set whose true ROAS is clearly below 2"
    assert {(a.kind, a.policy, a.state) for a in actions} == {("pause", "rule:stop-loss", "executed")}
    assert summary.execution["executed"] == len(actions)
    paused = actions[0].entity_id
    assert world.live(actions[0].account_id)[paused].status == "PAUSED"
    assert [m["entity_id"] for m in world.simulator.mutation_log() if m["kind"] == "pause"] == \
        [a.entity_id for a in actions]
    condition = actions[0].evidence["conditions"][0]
    assert condition["value"] < 2.0 and condition["probability"] >= 0.9

    path = config_file(tmp_path, database_url, **settings(STOP_LOSS))
    result = CliRunner().invoke(main, ["rules", "trace", "stop-loss", "--entity", paused, "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert f"FIRED {paused}" in result.output and "fired: pause" in result.output
    assert "roas last_14_days < 2 with confidence 0.9: " in result.output
    assert "P = " in result.output and "-> holds" in result.output

    others = CliRunner().invoke(main, ["rules", "trace", "stop-loss", "--config", str(path)])
    assert "condition false" in others.output or "does not hold" in others.output  # non-firings are traced too


def test_a_dry_run_rule_reports_and_changes_nothing(database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url, **settings({**STOP_LOSS, "dry_run": True}))
    run_cycle(engine, world.config, world.connectors, world.clock)
    actions = rule_actions(engine)
    assert actions and {a.state for a in actions} == {"reported"} and all(a.dry_run for a in actions)
    assert all("would have executed it" in a.decision_reason for a in actions)
    assert world.simulator.mutation_log() == []


def test_rules_test_shows_what_it_would_do_without_doing_it(tmp_path: Path, database_url: str,
                                                            engine: Engine) -> None:
    world = make_world(engine, database_url, **settings(STOP_LOSS))
    run_cycle(engine, world.config, world.connectors, world.clock, dry_run=True)  # the stored data
    path = config_file(tmp_path, database_url, **settings(STOP_LOSS))
    result = CliRunner().invoke(main, ["rules", "test", "stop-loss", "--config", str(path), "--today", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "would propose pause on " in result.output and "(permission auto)" in result.output
    assert world.simulator.mutation_log() == []


def test_config_check_refuses_an_invalid_rule_naming_it_and_the_field(tmp_path: Path, database_url: str) -> None:
    bad = {**STOP_LOSS, "when": {"metric": "roas", "window": "last_week", "op": "<", "value": 2}}
    path = config_file(tmp_path, database_url, **settings(bad))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "rule 'stop-loss' (rules[0]): when.window: expected today, yesterday" in result.output

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "extra.yaml").write_text(yaml.safe_dump({"rules": [{**STOP_LOSS, "then": []}]}))
    path = config_file(tmp_path, database_url, **settings(STOP_LOSS))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2
    assert "rule 'stop-loss' (rules/extra.yaml rules[0]): then: List should have at least 1 item" in result.output


def test_max_per_period_counts_firings_across_cycles(tmp_path: Path, database_url: str, engine: Engine) -> None:
    notify = {"name": "watch", "when": {"metric": "spend", "window": "yesterday", "op": ">", "value": 0},
              "then": [{"kind": "notify", "message": "spending"}], "max_per_period": {"count": 1, "period": "week"},
              "scope": {"accounts": ["shop-meta"]}}
    world = make_world(engine, database_url, **settings(notify))
    run_cycle(engine, world.config, world.connectors, world.clock)  # Monday 2026-11-23
    first = rule_actions(engine)
    assert first and {(a.kind, a.state) for a in first} == {("notify", "reported")}
    world.clock.current += timedelta(days=2)
    run_cycle(engine, world.config, world.connectors, world.clock)
    assert len(rule_actions(engine)) == len(first), "once a week per entity"

    path = config_file(tmp_path, database_url, **settings(notify))
    result = CliRunner().invoke(main, ["rules", "trace", "watch", "--limit", "1", "--config", str(path)])
    assert "held: fired 1 time(s) this week (max_per_period)" in result.output
