"""Dayparting through the platforms' schedules in the simulated world: a weekend-dimming rule writes a
Google ad schedule onto each campaign once (gated, executed exactly once, audited), does not touch a
budget, explains on Meta why it cannot (a daily budget), and `actions undo` restores the previous
schedule; config check refuses a dimming rule scoped to Meta."""

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
WEEKEND: dict[str, Any] = {
    "name": "weekend-dimming",
    "when": {"metric": "spend", "window": "last_7_days", "op": ">", "value": 0},
    "then": [{"kind": "ad_schedule", "bid_modifier": 0.8}],
    "schedule": {"weekdays": ["sat", "sun"]},
}


def settings(rule: dict[str, Any]) -> dict[str, Any]:
    return {"defaults": {"policies": NO_POLICIES, "permissions": {"set_ad_schedule": "auto"}}, "rules": [rule]}


def schedule_actions(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(Action.__table__).where(Action.kind == "set_ad_schedule")
                                       .order_by(Action.id)))


def test_weekend_dimming_writes_google_ad_schedules_once_and_undo_restores(tmp_path: Path, database_url: str,
                                                                           engine: Engine) -> None:
    world = make_world(engine, database_url, **settings(WEEKEND))
    run_cycle(engine, world.config, world.connectors, world.clock)  # a Monday: the rule still writes the week
    actions = schedule_actions(engine)
    campaigns = [e for e in world.live("shop-search").values() if e.level == "campaign"]
    assert {a.entity_id for a in actions} == {c.entity_id for c in campaigns}  # one per campaign, not per ad group
    assert {(a.state, a.account_id) for a in actions} == {("executed", "shop-search")}
    blocks = campaigns[0].attributes["ad_schedule"]
    assert {(b["day"], b["bid_modifier"]) for b in blocks} == {
        *((d, 1.0) for d in ("mon", "tue", "wed", "thu", "fri")), ("sat", 0.8), ("sun", 0.8)}
    assert all((b["start_hour"], b["end_hour"]) == (0, 24) for b in blocks)
    kinds = {m["kind"] for m in world.simulator.mutation_log()}
    assert kinds == {"set_ad_schedule"}  # no budget edited

    world.refresh_store()
    run_cycle(engine, world.config, world.connectors, world.clock)
    assert len(schedule_actions(engine)) == len(actions)  # already scheduled: nothing more

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(small_config(database_url, **settings(WEEKEND))))
    trace = CliRunner().invoke(main, ["rules", "trace", "weekend-dimming", "--config", str(path)])
    assert "Meta ad set schedules only turn delivery on and off" in trace.output, trace.output

    undo = CliRunner().invoke(main, ["actions", "undo", str(actions[0].id), "--by", "alice", "--config", str(path),
                                     "--today", world.clock.now().date().isoformat()])
    assert undo.exit_code == 0, undo.output
    assert world.live("shop-search")[actions[0].entity_id].attributes["ad_schedule"] == []


def test_config_check_refuses_dimming_scoped_to_meta(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "config.yaml"
    rule = {**WEEKEND, "scope": {"accounts": ["shop-meta"]}}
    path.write_text(yaml.safe_dump(small_config(database_url, **settings(rule))))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert ("rule 'weekend-dimming' (rules[0]): then[0]: ad_schedule: Meta ad set schedules only switch delivery "
            "off (bid_modifier 0), and the rule is scoped to account(s) shop-meta") in result.output


def test_a_dry_run_reports_the_schedule_and_writes_nothing(database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url, **settings(WEEKEND))
    run_cycle(engine, world.config, world.connectors, world.clock, dry_run=True)
    actions = schedule_actions(engine)
    assert actions and {a.state for a in actions} == {"reported"}
    assert all("would have executed it" in a.decision_reason for a in actions)
    assert world.simulator.mutation_log() == []
    assert all(e.attributes["ad_schedule"] == [] for e in world.live("shop-search").values() if e.level == "campaign")
