"""A rule's `add_label` in the simulated world: a gated kind executed exactly once on `auto`, held for
approval on `propose`, never sent in a dry run, traced, and undone (the label removed) through
`actions undo`; a rule scoped to LinkedIn with a label action is refused by `config check`."""

from __future__ import annotations

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
LABEL: dict[str, Any] = {
    "name": "mark-spenders", "scope": {"accounts": ["shop-meta"]},
    "when": {"metric": "spend", "window": "yesterday", "op": ">", "value": 0},
    "then": [{"kind": "add_label", "label": "rule: spender"}],
}


def settings(rule: dict[str, Any], level: str = "auto") -> dict[str, Any]:
    return {"defaults": {"policies": NO_POLICIES, "permissions": {"add_label": level, "remove_label": level}},
            "rules": [rule]}


def label_actions(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(Action.__table__).where(Action.kind.in_(("add_label", "remove_label")))
                                       .order_by(Action.id)))


def test_add_label_on_auto_executes_once_and_undo_removes_it(tmp_path: Path, database_url: str,
                                                              engine: Engine) -> None:
    world = make_world(engine, database_url, **settings(LABEL))
    run_cycle(engine, world.config, world.connectors, world.clock)
    actions = label_actions(engine)
    assert actions and {(a.kind, a.policy, a.state) for a in actions} == {("add_label", "rule:mark-spenders",
                                                                          "executed")}
    live = world.live("shop-meta")
    assert all("rule: spender" in live[a.entity_id].attributes["labels"] for a in actions)
    log = [m for m in world.simulator.mutation_log() if m["kind"] == "add_label"]
    assert sorted(m["entity_id"] for m in log) == sorted(a.entity_id for a in actions)

    world.refresh_store()
    run_cycle(engine, world.config, world.connectors, world.clock)  # labelled now: nothing more to add
    assert len(label_actions(engine)) == len(actions)
    assert len([m for m in world.simulator.mutation_log() if m["kind"] == "add_label"]) == len(actions)

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(database_url, **settings(LABEL))))
    trace = CliRunner().invoke(main, ["rules", "trace", "mark-spenders", "--entity", actions[0].entity_id,
                                      "--config", str(path)])
    assert trace.exit_code == 0 and "fired: add_label" in trace.output, trace.output

    undo = CliRunner().invoke(main, ["actions", "undo", str(actions[0].id), "--by", "alice", "--config", str(path),
                                     "--today", world.clock.now().date().isoformat()])
    assert undo.exit_code == 0, undo.output
    removal = [a for a in label_actions(engine) if a.kind == "remove_label"]
    assert [(a.entity_id, a.state, a.change["to"]) for a in removal] == \
        [(actions[0].entity_id, "executed", {"label": "rule: spender", "labeled": False})]
    assert "rule: spender" not in world.live("shop-meta")[actions[0].entity_id].attributes["labels"]


def test_add_label_on_propose_waits_and_dry_run_sends_nothing(database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url, **settings(LABEL, level="propose"))
    run_cycle(engine, world.config, world.connectors, world.clock, dry_run=True)
    assert {a.state for a in label_actions(engine)} == {"reported"}
    run_cycle(engine, world.config, world.connectors, world.clock)
    assert "pending_approval" in {a.state for a in label_actions(engine)}
    assert world.simulator.mutation_log() == []


def test_config_check_refuses_a_label_rule_scoped_to_linkedin(tmp_path: Path, database_url: str) -> None:
    accounts = [{"id": "b2b", "platform": "simulator", "simulate": "linkedin", "currency": "USD",
                 "timezone": "UTC"}]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(database_url, accounts=accounts,
                                                **settings({**LABEL, "scope": {"accounts": ["b2b"]}}))))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert ("rule 'mark-spenders' (rules[0]): then[0]: add_label: LinkedIn has no labels, and the rule is scoped "
            "to account(s) b2b") in result.output
