"""Approved copy launched as a test, on the simulator through the real cycle: the launch and the
loser's pause are gated actions, a draft that was not approved (or was held out) is never launched,
a dry run launches nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine

from agent.approvals.decisions import decide_action
from agent.cli import main
from agent.cycle.run import run_cycle
from agent.experiments.copy_test_store import copy_tests_since
from agent.storage import audit_trail
from agent.storage.action_states import list_actions
from tests.integration.conftest import SimWorld, make_world, small_config

COPYWRITER = {"low_ctr_ratio": 0.99, "low_ctr_min_impressions": 0, "max_ad_sets_per_cycle": 1,
              "max_proposals_per_ad_set": 1}
# short tests: a verdict from the second day, and at the maximum the higher CTR wins on any lead
QUICK_TESTS = {"max_days": 6, "min_impressions": 300, "min_days": 2, "final_z": 0}


def world_with(engine: Engine, database_url: str, permissions: dict[str, str],
               holdout_share: dict[str, float] | None = None, rule: dict[str, Any] | None = None) -> SimWorld:
    return make_world(engine, database_url, defaults={"permissions": permissions, "copywriter": COPYWRITER},
                      experiments={"holdout_share": holdout_share or {}, "copy_tests": {**QUICK_TESTS, **(rule or {})}})


def run_days(world: SimWorld, days: int, dry_run: bool = False) -> None:
    for _ in range(days):
        run_cycle(world.engine, world.config, world.connectors, world.clock, dry_run=dry_run)
        world.clock.advance(timedelta(days=1))


def copy_tests(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return copy_tests_since(connection)


def test_a_launched_copy_test_ends_and_the_loser_is_paused_through_the_gate(engine: Engine, database_url: str,
                                                                             tmp_path: Path) -> None:
    world = world_with(engine, database_url, {"new_ad": "auto", "enable": "auto", "pause": "auto"})
    for _ in range(12):
        run_days(world, 1)
        if any(t["status"] == "ended" for t in copy_tests(engine)):
            break
    ended = [t for t in copy_tests(engine) if t["status"] == "ended"]
    assert ended, [(t["status"], t["reason"]) for t in copy_tests(engine)]
    test = ended[0]
    assert test["outcome"] in ("challenger_wins", "control_wins")
    assert test["started_on"] is not None and test["predicted_ctr"] and test["observed_ctr"] is not None
    assert test["feedback_log_shift"] == 0.0  # recorded: no launch on the platform had ended before it
    challenger_won = test["outcome"] == "challenger_wins"
    assert (test["observed_ctr"] > test["incumbent_ctr"]) == challenger_won  # the higher CTR keeps running
    assert test["winner_ad_id"] == (test["challenger_ad_id"] if challenger_won else test["incumbent_ad_id"])

    with engine.connect() as connection:
        ours = [a for a in list_actions(connection) if a["policy"] == "copy_test"]
        launch = [a for a in ours if a["kind"] == "enable" and a["entity_id"] == test["challenger_ad_id"]]
        pauses = [a for a in ours if a["kind"] == "pause" and a["entity_id"] == test["loser_ad_id"]]
        assert [a["state"] for a in launch] == ["executed"] and [a["state"] for a in pauses] == ["executed"]
        pause = pauses[0]
        assert pause["evidence"]["copy_test"]["outcome"] == test["outcome"]
        assert pause["evidence"]["copy_test"]["counts"]["challenger"]["impressions"] >= 300
        events = [e["event"] for e in audit_trail.action_events(connection, pause["id"])]
        # the gate approved it (permission auto within the guardrails), then the executor ran it once
        assert events[0] == "proposal" and "state:approved" in events and events[-1] == "state:executed", events

    sent = [m for m in world.simulator.mutation_log() if m["entity_id"] == test["loser_ad_id"] and m["kind"] == "pause"]
    assert len(sent) == 1 and sent[0]["idempotency_key"] == pause["idempotency_key"]  # exactly once
    live = world.live(test["account_id"])
    assert live[test["loser_ad_id"]].status == "PAUSED" and live[test["winner_ad_id"]].status == "ACTIVE"
    # the launched ad delivered with its own true CTR (the simulator's hidden truth, from its words)
    truth = world.simulator.observe(test["account_id"]).truth
    assert test["observed_ctr"] == pytest.approx(truth.true_ctr[test["challenger_ad_id"]], rel=0.25)

    # a person undoes the loser's pause like any other change; the test stays decided and does not pause it again
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url, defaults={
        "permissions": {"new_ad": "auto", "enable": "auto", "pause": "auto"}, "copywriter": COPYWRITER})))
    undo = CliRunner().invoke(main, ["actions", "undo", str(pause["id"]), "--by", "ann", "--config", str(config_path),
                                     "--today", world.clock.now().date().isoformat()])
    assert undo.exit_code == 0, undo.output
    world.clock.advance(timedelta(hours=30))  # past the pause's cooldown, and a new day
    run_days(world, 1)
    assert world.live(test["account_id"])[test["loser_ad_id"]].status == "ACTIVE"
    with engine.connect() as connection:
        again = [a for a in list_actions(connection) if a["policy"] == "copy_test" and a["kind"] == "pause"
                 and a["entity_id"] == test["loser_ad_id"]]
    assert [a["id"] for a in again] == [pause["id"]]
    assert next(t for t in copy_tests(engine) if t["id"] == test["id"])["status"] == "ended"


def test_a_test_without_a_clear_lead_at_the_maximum_ends_with_both_ads_running(engine: Engine,
                                                                               database_url: str) -> None:
    world = world_with(engine, database_url, {"new_ad": "auto", "enable": "auto", "pause": "auto"},
                       rule={"z_bound": 50, "final_z": 50})  # no lead is ever clear enough
    for _ in range(12):
        run_days(world, 1)
        if any(t["status"] == "ended" for t in copy_tests(engine)):
            break
    ended = [t for t in copy_tests(engine) if t["status"] == "ended"]
    assert ended and ended[0]["outcome"] == "no_winner" and "both ads keep running" in ended[0]["reason"]
    test = ended[0]
    with engine.connect() as connection:
        pauses = [a for a in list_actions(connection) if a["policy"] == "copy_test" and a["kind"] == "pause"]
    assert pauses == [] and test["loser_ad_id"] is None
    live = world.live(test["account_id"])
    assert live[test["challenger_ad_id"]].status == "ACTIVE" and live[test["incumbent_ad_id"]].status == "ACTIVE"


@pytest.mark.parametrize("case", ["not_approved", "held_out"])
def test_a_draft_not_approved_or_held_out_is_never_launched(engine: Engine, database_url: str, case: str) -> None:
    if case == "not_approved":  # drafts wait for a person who never says yes
        world = world_with(engine, database_url, {"new_ad": "propose", "enable": "auto", "pause": "auto"})
    else:  # drafts approved automatically, but every one drawn into the held-out arm
        world = world_with(engine, database_url, {"new_ad": "auto", "enable": "auto", "pause": "auto"},
                           holdout_share={"new_ad": 0.999999})
    run_days(world, 4)
    with engine.connect() as connection:
        drafts = [a for a in list_actions(connection) if a["kind"] == "new_ad"]
        launches = [a for a in list_actions(connection) if a["policy"] == "copy_test"]
    assert drafts and {a["state"] for a in drafts} <= {"pending_approval", "held_out", "expired", "superseded"}
    assert (case == "held_out") == any(a["state"] == "held_out" for a in drafts)
    assert launches == [] and copy_tests(engine) == []
    assert not [m for m in world.simulator.mutation_log() if m["kind"] in ("new_ad", "enable")]


def test_a_dry_run_launches_nothing(engine: Engine, database_url: str) -> None:
    world = world_with(engine, database_url, {"new_ad": "auto", "enable": "auto", "pause": "auto"})
    run_days(world, 1)  # the drafts are executed: created paused
    assert [m for m in world.simulator.mutation_log() if m["kind"] == "new_ad"]
    run_days(world, 2, dry_run=True)
    with engine.connect() as connection:
        launches = [a for a in list_actions(connection) if a["policy"] == "copy_test"]
    assert launches and all(a["state"] == "reported" and a["dry_run"] for a in launches)  # would have launched
    assert copy_tests(engine) == []
    assert not [m for m in world.simulator.mutation_log() if m["kind"] == "enable"]

    run_days(world, 1)  # a real cycle launches what the dry run only reported
    launched = [m["entity_id"] for m in world.simulator.mutation_log() if m["kind"] == "enable"]
    assert launched and sorted(launched) == sorted(t["challenger_ad_id"] for t in copy_tests(engine))
    run_days(world, 1)  # the next cycle sees the launch executed: the test runs from the launch day
    assert {t["status"] for t in copy_tests(engine) if t["challenger_ad_id"] in launched} == {"running"}


def test_a_refused_launch_is_not_asked_again_and_approval_launches_it(engine: Engine, database_url: str) -> None:
    world = world_with(engine, database_url, {"new_ad": "auto", "enable": "propose", "pause": "auto"})
    run_days(world, 2)  # drafts executed, then their launches queued for a person
    with engine.connect() as connection:
        waiting = [a for a in list_actions(connection, "pending_approval") if a["policy"] == "copy_test"
                   and a["kind"] != "set_ad_rotation"]  # Google's even rotation: tests/integration/test_copy_test_rotation.py
    assert len(waiting) >= 2 and {a["kind"] for a in waiting} == {"enable"}
    refused, approved = waiting[0], waiting[1]
    now = world.clock.now()
    assert decide_action(engine, refused["id"], "reject", approver="ann", channel="test", now=now).ok
    assert decide_action(engine, approved["id"], "approve", approver="ann", channel="test", now=now).ok
    run_days(world, 2)
    tests = {t["challenger_ad_id"]: t for t in copy_tests(engine)}
    assert tests[refused["entity_id"]]["status"] == "not_launched"
    assert "rejected" in tests[refused["entity_id"]]["reason"]
    assert tests[approved["entity_id"]]["status"] == "running"
    with engine.connect() as connection:
        asked = [a for a in list_actions(connection) if a["policy"] == "copy_test"
                 and a["entity_id"] == refused["entity_id"]]
    assert [a["id"] for a in asked] == [refused["id"]]  # a person's no is not asked again
    enabled = {m["entity_id"] for m in world.simulator.mutation_log() if m["kind"] == "enable"}
    assert approved["entity_id"] in enabled and refused["entity_id"] not in enabled
