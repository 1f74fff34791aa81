"""Google copy tests rotate their ad group's ads evenly while they run, and give the optimized rotation
back after: both through the gate, each written once, on the simulator through the real cycle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from agent.approvals.decisions import decide_action
from agent.cycle.run import run_cycle
from agent.experiments.copy_test_store import copy_tests_since
from agent.storage.action_states import list_actions
from connectors.records import Mutation
from tests.integration.conftest import SimWorld, make_world
from tests.integration.test_copy_tests import COPYWRITER, QUICK_TESTS

ACCOUNT = "shop-search"
GOOGLE_ONLY = [{"id": ACCOUNT, "platform": "simulator", "simulate": "google_ads", "currency": "USD",
                "timezone": "America/New_York"}]


def google_world(engine: Engine, database_url: str, rotation: str = "auto") -> SimWorld:
    permissions = {"new_ad": "auto", "enable": "auto", "pause": "auto", "set_ad_rotation": rotation}
    return make_world(engine, database_url, accounts=GOOGLE_ONLY,
                      defaults={"permissions": permissions, "copywriter": COPYWRITER},
                      experiments={"holdout_share": {}, "copy_tests": QUICK_TESTS})


def cycle(world: SimWorld) -> None:
    run_cycle(world.engine, world.config, world.connectors, world.clock)
    world.clock.advance(timedelta(days=1))


def copy_tests_in(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return copy_tests_since(connection)


def rotation_actions(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return [a for a in list_actions(connection) if a["kind"] == "set_ad_rotation"]


def cycle_until_a_rotation_is_asked(world: SimWorld) -> list[Any]:
    """Daily cycles until a Google copy test's even rotation waits for a person: the pending ones."""
    for _ in range(14):
        cycle(world)
        pending = [a for a in rotation_actions(world.engine) if a["state"] == "pending_approval"]
        if pending:
            return pending
    return []


def rotation(world: SimWorld, ad_set_id: str) -> str | None:
    return world.live(ACCOUNT)[ad_set_id].attributes.get("ad_rotation")


def test_an_ad_group_under_test_rotates_evenly_and_gets_its_optimized_rotation_back(engine: Engine,
                                                                                    database_url: str) -> None:
    world = google_world(engine, database_url)
    assert {e.attributes.get("ad_rotation") for e in world.active_ad_sets(ACCOUNT)} == {"OPTIMIZE"}
    seen_during: list[str | None] = []
    for _ in range(14):
        cycle(world)
        running = [t for t in copy_tests_in(engine) if t["status"] == "running"]
        seen_during += [rotation(world, t["ad_set_id"]) for t in running]
        if any(t["status"] == "ended" for t in copy_tests_in(engine)) and not running:
            break
    ended = [t for t in copy_tests_in(engine) if t["status"] == "ended"]
    assert ended, [(t["status"], t["reason"]) for t in copy_tests_in(engine)]
    assert seen_during and set(seen_during) == {"ROTATE_FOREVER"}  # even for as long as the test ran
    cycle(world)  # the cycle after the end gives the rotation back
    ad_set = ended[0]["ad_set_id"]
    assert rotation(world, ad_set) == "OPTIMIZE"

    actions = [a for a in rotation_actions(engine) if a["entity_id"] == ad_set]
    assert [(a["change"]["to"]["ad_rotation"], a["state"], a["policy"]) for a in actions] == [
        ("ROTATE_FOREVER", "executed", "copy_test"), ("OPTIMIZE", "executed", "copy_test")]
    sent = [m for m in world.simulator.mutation_log() if m["kind"] == "set_ad_rotation"]
    assert [m["idempotency_key"] for m in sent if m["entity_id"] == ad_set] == [a["idempotency_key"] for a in actions]
    for _ in range(2):  # nothing more once it is back
        cycle(world)
    assert len([a for a in rotation_actions(engine) if a["entity_id"] == ad_set]) == 2


def test_a_refused_even_rotation_is_not_asked_again_and_nothing_is_given_back(engine: Engine,
                                                                              database_url: str) -> None:
    world = google_world(engine, database_url, rotation="propose")
    pending = cycle_until_a_rotation_is_asked(world)
    assert len(pending) == 1 and pending[0]["change"] == {"from": {"ad_rotation": "OPTIMIZE"},
                                                          "to": {"ad_rotation": "ROTATE_FOREVER"}}
    assert decide_action(engine, pending[0]["id"], "reject", approver="ann", channel="test", now=world.clock.now(),
                         reason="keep optimized").ok
    for _ in range(10):
        cycle(world)
        if any(t["status"] == "ended" for t in copy_tests_in(engine)):
            break
    for _ in range(2):
        cycle(world)
    ad_set = pending[0]["entity_id"]
    # asked once, refused, never again (other ad groups' tests are asked for on their own)
    assert [a["state"] for a in rotation_actions(engine) if a["entity_id"] == ad_set] == ["rejected"]
    assert rotation(world, ad_set) == "OPTIMIZE"
    assert any(t["status"] in ("running", "concluding", "ended") for t in copy_tests_in(engine))  # the test ran anyway


def test_a_rotation_a_person_set_is_neither_changed_nor_given_back(engine: Engine, database_url: str) -> None:
    world = google_world(engine, database_url)
    for ad_set in world.active_ad_sets(ACCOUNT):  # the advertiser already rotates evenly
        world.simulator.apply_as_human(ACCOUNT, Mutation(kind="set_ad_rotation", account_id=ACCOUNT,
                                                         entity_id=ad_set.entity_id,
                                                         params={"ad_rotation": "ROTATE_FOREVER"},
                                                         idempotency_key=f"person-{ad_set.entity_id}"))
    for _ in range(14):
        cycle(world)
        if any(t["status"] == "ended" for t in copy_tests_in(engine)):
            break
    cycle(world)
    assert any(t["status"] == "ended" for t in copy_tests_in(engine))
    assert rotation_actions(engine) == []
    assert {e.attributes.get("ad_rotation") for e in world.active_ad_sets(ACCOUNT)} == {"ROTATE_FOREVER"}


def test_an_approved_rotation_is_not_written_when_a_person_changed_it_meanwhile(engine: Engine,
                                                                                database_url: str) -> None:
    world = google_world(engine, database_url, rotation="propose")
    pending = cycle_until_a_rotation_is_asked(world)
    assert len(pending) == 1
    ad_set = pending[0]["entity_id"]
    world.simulator.apply_as_human(ACCOUNT, Mutation(kind="set_ad_rotation", account_id=ACCOUNT, entity_id=ad_set,
                                                     params={"ad_rotation": "ROTATE_FOREVER"},
                                                     idempotency_key="person"))
    assert decide_action(engine, pending[0]["id"], "approve", approver="ann", channel="test",
                         now=world.clock.now()).ok
    cycle(world)
    action = next(a for a in rotation_actions(engine) if a["id"] == pending[0]["id"])
    assert action["state"] == "superseded" and "already in the proposed state" in action["decision_reason"]
    assert [m for m in world.simulator.mutation_log() if m["kind"] == "set_ad_rotation"
            and m["idempotency_key"] == action["idempotency_key"]] == []
    for _ in range(10):  # the person's rotation is theirs: not given back when the test ends
        cycle(world)
    assert rotation(world, ad_set) == "ROTATE_FOREVER"
    assert [a["id"] for a in rotation_actions(engine) if a["entity_id"] == ad_set] == [action["id"]]


def test_giving_the_rotation_back_stays_asked_until_a_person_decides(engine: Engine, database_url: str) -> None:
    world = google_world(engine, database_url, rotation="propose")
    pending = cycle_until_a_rotation_is_asked(world)
    ad_set = pending[0]["entity_id"]
    assert decide_action(engine, pending[0]["id"], "approve", approver="ann", channel="test",
                         now=world.clock.now()).ok
    restore: list[Any] = []
    for _ in range(16):
        cycle(world)
        restore = [a for a in rotation_actions(engine) if a["entity_id"] == ad_set
                   and a["change"]["to"]["ad_rotation"] == "OPTIMIZE"]
        if restore:
            break
    assert [a["state"] for a in restore] == ["pending_approval"]
    for _ in range(4):  # longer than the evidence grace days: a question still asked does not expire
        cycle(world)
    asked = [a for a in rotation_actions(engine) if a["entity_id"] == ad_set
             and a["change"]["to"]["ad_rotation"] == "OPTIMIZE"]
    assert [(a["id"], a["state"]) for a in asked] == [(restore[0]["id"], "pending_approval")]
    assert rotation(world, ad_set) == "ROTATE_FOREVER"
    assert decide_action(engine, restore[0]["id"], "approve", approver="ann", channel="test",
                         now=world.clock.now()).ok
    cycle(world)
    assert rotation(world, ad_set) == "OPTIMIZE"
