"""Additive changes deduplicated by their effect, against the simulator's own mutation log.

A crash right after an exclusion landed, then a re-run of the day: the policy proposes the
remaining exclusion again with a different `from` (it now lists the one already applied). The
platform must still see each audience excluded once.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from agent.cycle.run import run_cycle
from agent.execution.executor import execute_approved
from agent.storage.action_states import get_action, list_actions
from connectors.records import Mutation
from policies.base import Proposal
from tests.integration.conftest import SimWorld, make_world

OVERLAP_WORLD: dict[str, Any] = {
    "simulator": {"seed": 7, "history_days": 30, "campaigns_per_account": 2, "ad_sets_per_campaign": 3,
                  "ads_per_ad_set": 2},
    "accounts": [{"id": "shop-meta", "platform": "simulator", "simulate": "meta", "currency": "EUR",
                  "timezone": "Europe/Berlin"}],
    "defaults": {"permissions": {"exclude_audience": "auto"},
                 "policies": {"audience_overlap": {"overlap_threshold": 0.05, "min_roas_gap": 0.0, "min_spend": 0}}},
}


class Crash(Exception):
    """The process dying right after a write reached the platform."""


def crash_after_writes(world: SimWorld, writes: int) -> None:
    seen = [0]

    def hook(point: str, _mutation: Mutation) -> None:
        if point == "after_apply":
            seen[0] += 1
            if seen[0] == writes:
                raise Crash("killed right after a write landed")

    world.simulator.fault_hook = hook


def exclusions_sent(world: SimWorld) -> Counter[tuple[str, str]]:
    return Counter((row["entity_id"], row["params"]["audience_id"]) for row in world.simulator.mutation_log()
                   if row["kind"] == "exclude_audience")


def test_an_exclusion_is_never_applied_twice_after_a_crash_and_a_rerun(engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, **OVERLAP_WORLD)
    crash_after_writes(world, 2)
    run_cycle(engine, world.config, world.connectors, world.clock)
    with engine.connect() as connection:
        exclusions = [a for a in list_actions(connection) if a["kind"] == "exclude_audience"]
    # the second write landed on an ad set that is to exclude two audiences; the third never left,
    # and its outcome stays unknown (counted as applied) until its absence has been seen long enough
    assert [a["state"] for a in exclusions] == ["executed", "executed", "unknown"]
    assert exclusions[1]["entity_id"] == exclusions[2]["entity_id"]
    assert sum(exclusions_sent(world).values()) == 2

    world.simulator.fault_hook = None
    world.clock.advance(timedelta(hours=1))
    summary = run_cycle(engine, world.config, world.connectors, world.clock)  # the day re-run

    sent = exclusions_sent(world)
    assert sent == Counter({key: 1 for key in sent}), f"excluded twice: {sent}"
    assert len(sent) == 3  # nothing lost either
    with engine.connect() as connection:
        states = Counter(a["state"] for a in list_actions(connection) if a["kind"] == "exclude_audience")
    assert states == Counter({"executed": 3})
    assert summary.actions_by_state["already_open"] >= 1


def test_an_exclusion_a_person_already_made_is_not_sent_again(engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, **OVERLAP_WORLD)
    weak = world.active_ad_sets("shop-meta")[0]
    audience = world.active_ad_sets("shop-meta")[-1].attributes["audience_ids"][0]
    action_id = world.queue(Proposal(
        kind="exclude_audience", policy="test", account_id="shop-meta", entity_id=weak.entity_id,
        entity_level="ad_set", entity_name=weak.name, rationale="test exclusion",
        change={"from": {"excluded_audience_ids": []}, "to": {"excluded_audience_id": audience}}))
    world.simulator.apply_as_human("shop-meta", Mutation(
        kind="exclude_audience", account_id="shop-meta", entity_id=weak.entity_id,
        params={"audience_id": audience}, idempotency_key="by-hand"))

    report = execute_approved(engine, world.connectors, world.config, world.clock)

    assert report.outcomes == Counter({"superseded": 1})
    assert exclusions_sent(world) == Counter({(weak.entity_id, audience): 1})
    with engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None and action["state"] == "superseded"
    assert action["decision_reason"].startswith("already applied outside")


def test_a_negative_keyword_already_queued_or_applied_is_not_proposed_again(engine: Engine,
                                                                              database_url: str) -> None:
    world = make_world(engine, database_url)
    run_cycle(engine, world.config, world.connectors, world.clock)
    with engine.connect() as connection:
        queued = [a for a in list_actions(connection) if a["kind"] == "add_negative_keywords"]
    assert queued and all(a["state"] == "pending_approval" for a in queued)
    campaign, keywords = queued[0]["entity_id"], queued[0]["change"]["to"]["keywords"]
    # while the list waits for approval a person adds its first keyword by hand, typed their way:
    # the policy now proposes the rest of the list, a different change with nothing new in it
    typed = {"text": f" {keywords[0]['text'].upper()} ", "match_type": keywords[0]["match_type"].lower()}
    world.simulator.apply_as_human("shop-search", Mutation(
        kind="add_negative_keywords", account_id="shop-search", entity_id=campaign,
        params={"list_name": "by hand", "keywords": [typed]}, idempotency_key="by-hand"))
    world.clock.advance(timedelta(hours=1))

    second = run_cycle(engine, world.config, world.connectors, world.clock)

    with engine.connect() as connection:
        lists = [a for a in list_actions(connection) if a["kind"] == "add_negative_keywords"]
    assert [a["id"] for a in lists] == [a["id"] for a in queued]
    assert second.actions_by_state["already_open"] >= 1
