"""Segment actions (a Google device bid modifier and age range, gender and location exclusions, a Meta
placement exclusion and age range narrowed at an edge, LinkedIn company-size, seniority, industry and
job-function exclusions) end to end: the permission gate, the exactly-once executor, the real connectors and SDKs
against the fake platforms (which apply them to the simulated world), and undo. Also: a lost answer
is settled by reading the platform and never re-sent; a segment changed meanwhile is not
overwritten; a cut over the delivery-share guardrail never runs; a dry run mutates nothing."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.config import AgentConfig
from agent.cycle.run import run_cycle
from agent.decisions.gate import context_for, decide
from agent.decisions.undo import undo_proposal
from agent.execution.executor import execute_approved
from agent.execution.settlement import Settling
from agent.storage.action_states import create_action, get_action, list_actions, transition
from connectors.base import Connector
from connectors.records import Entity, Mutation
from policies.base import Proposal
from tests.integration.conftest import make_world
from tests.integration.test_crash_and_concurrency import execute_in_subprocess
from tests.integration.test_crash_and_concurrency import write_config as write_crash_config
from tests.integration.test_real_connectors_e2e import TODAY, Platforms, agent_config, connectors_for
from tests.integration.test_real_connectors_e2e import platforms as platforms  # noqa: F401  (fixture)

FAST = Settling(delay_seconds=0.0, attempts=1)
SIM_ACCOUNT = {"acme-search": "sim-search", "acme-social": "sim-social", "acme-b2b": "sim-b2b"}
# case -> (account, kind, dimension, segment, the fault point of its platform's write)
CASES = {
    "google-device": ("acme-search", "set_device_bid_modifier", "device", "tablet",
                      ("google", "mutate:AdGroupBidModifierService")),
    "google-age": ("acme-search", "exclude_age_range", "age", "18-24", ("google", "mutate:AdGroupCriterionService")),
    "google-gender": ("acme-search", "exclude_gender", "gender", "male", ("google", "mutate:AdGroupCriterionService")),
    "meta-placement": ("acme-social", "exclude_placement", "placement", "audience_network_classic",
                       ("meta", "post:batch")),
    "meta-age": ("acme-social", "narrow_age_range", "age", "18-24", ("meta", "post:batch")),
    "meta-region": ("acme-social", "exclude_region", "region", "bavaria", ("meta", "post:batch")),
    "linkedin-company-size": ("acme-b2b", "exclude_company_size", "company_size", "2-10", ("linkedin", "post:")),
    "linkedin-seniority": ("acme-b2b", "exclude_seniority", "seniority", "entry", ("linkedin", "post:")),
    "linkedin-industry": ("acme-b2b", "exclude_industry", "industry", "technology-information-and-internet",
                          ("linkedin", "post:")),
    "linkedin-job-function": ("acme-b2b", "exclude_job_function", "job_function", "sales", ("linkedin", "post:")),
    "google-location": ("acme-search", "exclude_location", "region", "texas",
                        ("google", "mutate:CampaignCriterionService")),
}
KINDS = sorted({case[1] for case in CASES.values()})


def _cut(case: str, ad_set: Entity, share: float = 0.12) -> Proposal:
    """A cut shaped as policies/segment_exclusions.py shapes one."""
    account_id, kind, dimension, segment, _ = CASES[case]
    before: dict[str, Any] = {"dimension": dimension, "segment": segment, "excluded": False}
    to: dict[str, Any] = {"dimension": dimension, "segment": segment, "excluded": True}
    if kind == "set_device_bid_modifier":
        before["bid_modifier"] = ad_set.attributes["device_bid_modifiers"].get(segment)
        to["bid_modifier"] = -1.0
    if kind == "narrow_age_range":  # Meta has no age exclusion: the range's lower end moves up past the band
        before["age_min"], before["age_max"], to["age_min"], to["age_max"] = 18, 65, 25, 65
    return Proposal(kind=kind, policy="segment_exclusions", account_id=account_id, entity_id=ad_set.entity_id,
                    entity_level="ad_set", entity_name=ad_set.name, change={"from": before, "to": to},
                    rationale=f"test: cut {segment}", evidence={"spend_share": share})


def _ad_set(connector: Connector, account_id: str) -> Entity:
    return next(e for e in connector.entities(account_id) if e.level == "ad_set" and e.status == "ACTIVE")


def _gate(engine: Engine, config: AgentConfig, connector: Connector, proposal: Proposal, now: Any) -> tuple[int, str]:
    """Decide and record `proposal` the way the cycle's gate does: (action id, state)."""
    account = config.account(proposal.account_id)
    entities = {e.entity_id: e for e in connector.entities(account.id)}
    with engine.begin() as connection:
        decision = decide(proposal, account, config, dry_run=False, settings=config.guardrail_settings(account),
                          ctx=context_for(connection, account, config, now, entities))
        action_id = create_action(connection, proposal, cycle_id=None, permission=decision.permission,
                                  dry_run=False, now=now, key_salt=f"test-{proposal.policy}")
        transition(connection, action_id, decision.state, actor="gate", reason=decision.reason, now=now)
    return action_id, decision.state


def _sim_entity(platforms: Platforms, account_id: str, connector_id: str) -> Entity:  # noqa: F811
    """The simulator's own view of the ad set the connector calls `connector_id`."""
    fakes: dict[str, Any] = {"acme-search": platforms.google, "acme-social": platforms.meta,
                             "acme-b2b": platforms.linkedin}
    sim_id = fakes[account_id].ids.sim(connector_id)
    return platforms.simulator.entities(SIM_ACCOUNT[account_id], [str(sim_id)])[0]


def _excluded(entity: Entity, dimension: str) -> list[str]:
    return list(entity.attributes.get("excluded_segments", {}).get(dimension, []))


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_segment_cut_runs_through_gate_executor_platform_and_undo(
        case: str, engine: Engine, database_url: str, platforms: Platforms) -> None:  # noqa: F811
    account_id, kind, dimension, segment, _ = CASES[case]
    config = agent_config(database_url, permissions={kind: "auto"})
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = connectors_for(config, clock, platforms)
    connector = connectors[config.account(account_id).platform]
    ad_set = _ad_set(connector, account_id)
    assert segment not in _excluded(ad_set, dimension)

    action_id, state = _gate(engine, config, connector, _cut(case, ad_set), clock.now())
    assert state == "approved"
    report = execute_approved(engine, connectors, config, clock, settling=FAST)

    assert report.outcomes == Counter({"executed": 1}), report.outcomes
    log = platforms.simulator.mutation_log()
    assert [(row["kind"], row["params"]["segment"]) for row in log] == [(kind, segment)]
    assert segment in _excluded(_sim_entity(platforms, account_id, ad_set.entity_id), dimension)
    live = connector.entities(account_id, [ad_set.entity_id])[0]  # and the connector reads it back
    assert segment in _excluded(live, dimension)
    if kind == "set_device_bid_modifier":
        assert live.attributes["device_bid_modifiers"] == {segment: -1.0}
    if kind == "narrow_age_range":
        assert (live.attributes["age_min"], live.attributes["age_max"]) == (25, 65)
    if kind == "exclude_location":  # a campaign criterion: every ad group of the campaign stops serving there
        siblings = [e for e in platforms.simulator.entities(SIM_ACCOUNT[account_id]) if e.level == "ad_set"
                    and e.parent_id == _sim_entity(platforms, account_id, ad_set.entity_id).parent_id]
        assert len(siblings) == 2 and all(segment in _excluded(e, dimension) for e in siblings)
        [create] = [r.operations[0].create for kind_, r in platforms.google.requests
                    if kind_ == "mutate:CampaignCriterionService"]
        assert create.negative and create.location.geo_target_constant.startswith("geoTargetConstants/")
        campaign_number = platforms.google.ids.numeric(str(siblings[0].parent_id))
        assert create.campaign == f"customers/1234567890/campaigns/{campaign_number}"
    if kind == "exclude_region":  # looked up by name in the targeting search, written by Meta's key
        [search] = [params for _, path, params in platforms.meta.log if path == "search"]
        assert search["q"] == segment and search["country_code"] == "DE" and "region" in search["location_types"]
    with engine.connect() as connection:
        executed = get_action(connection, action_id)
    assert executed is not None and executed["state"] == "executed" and executed["result"]["platform_ref"]

    # undo: the same kind with the sides swapped, through the same gate, restores the segment
    undo_id, undo_state = _gate(engine, config, connector, undo_proposal(executed, "alice"), clock.now())
    assert undo_state == "approved"
    assert execute_approved(engine, connectors, config, clock, settling=FAST).outcomes == Counter({"executed": 1})
    restored = _sim_entity(platforms, account_id, ad_set.entity_id)
    assert segment not in _excluded(restored, dimension)
    if kind == "set_device_bid_modifier":
        assert restored.attributes["device_bid_modifiers"] == {}  # the modifier is gone, not set to +0%
    assert len(platforms.simulator.mutation_log()) == 2

    # nothing is left to run: executing again sends nothing
    again = execute_approved(engine, connectors, config, clock, settling=FAST)
    assert again.mutating_calls == 0 and len(platforms.simulator.mutation_log()) == 2


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_lost_answer_is_settled_by_reading_and_never_sent_again(
        case: str, engine: Engine, database_url: str, platforms: Platforms) -> None:  # noqa: F811
    account_id, kind, dimension, segment, (fake_name, point) = CASES[case]
    config = agent_config(database_url, permissions={kind: "auto"})
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = connectors_for(config, clock, platforms)
    connector = connectors[config.account(account_id).platform]
    action_id, _ = _gate(engine, config, connector, _cut(case, _ad_set(connector, account_id)), clock.now())
    getattr(platforms, fake_name).faults.inject("drop_answer", point)  # applied; the answer is lost

    report = execute_approved(engine, connectors, config, clock, settling=FAST)
    later = execute_approved(engine, connectors, config, clock, settling=FAST)

    assert report.outcomes["settled_executed"] == 1, report.outcomes
    assert later.mutating_calls == 0
    assert [row["kind"] for row in platforms.simulator.mutation_log()] == [kind]  # applied exactly once
    with engine.connect() as connection:
        assert get_action(connection, action_id)["state"] == "executed"  # type: ignore[index]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_segment_changed_meanwhile_is_superseded_not_overwritten(
        case: str, engine: Engine, database_url: str, platforms: Platforms) -> None:  # noqa: F811
    account_id, kind, dimension, segment, _ = CASES[case]
    config = agent_config(database_url, permissions={kind: "auto"})
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = connectors_for(config, clock, platforms)
    connector = connectors[config.account(account_id).platform]
    ad_set = _ad_set(connector, account_id)
    action_id, _ = _gate(engine, config, connector, _cut(case, ad_set), clock.now())
    # a person changes the same segment in the platform's interface before the agent runs
    sim_entity = _sim_entity(platforms, account_id, ad_set.entity_id)
    by_hand = ({"dimension": dimension, "segment": segment, "bid_modifier": 0.2} if kind == "set_device_bid_modifier"
               else {"dimension": dimension, "segment": segment, "excluded": True})
    assert platforms.simulator.apply_as_human(SIM_ACCOUNT[account_id], Mutation(
        kind, SIM_ACCOUNT[account_id], sim_entity.entity_id, by_hand, "by-hand")).ok  # type: ignore[arg-type]

    report = execute_approved(engine, connectors, config, clock, settling=FAST)

    assert report.outcomes == Counter({"superseded": 1}) and report.mutating_calls == 0, report.outcomes
    assert [row["actor"] for row in platforms.simulator.mutation_log()] == ["human"]
    with engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None and action["state"] == "superseded"


def test_a_cut_over_the_delivery_share_never_runs(engine: Engine, database_url: str,
                                                  platforms: Platforms) -> None:  # noqa: F811
    config = agent_config(database_url, permissions={kind: "auto" for kind in KINDS})
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = connectors_for(config, clock, platforms)
    connector = connectors["meta"]
    ad_set = _ad_set(connector, "acme-social")
    _, state = _gate(engine, config, connector, _cut("meta-placement", ad_set, share=0.5), clock.now())
    assert state == "rejected"
    with engine.connect() as connection:
        [rejected] = list_actions(connection, "rejected")
    assert "35%" in rejected["decision_reason"] and "50%" in rejected["decision_reason"]
    # approved by other means (a looser setting then), it is still refused right before the write
    with engine.begin() as connection:
        action_id = create_action(connection, _cut("meta-placement", ad_set, share=0.5), cycle_id=None,
                                  permission="auto", dry_run=False, now=clock.now(), key_salt="forced")
        transition(connection, action_id, "approved", actor="test", reason="approved", now=clock.now())
    report = execute_approved(engine, connectors, config, clock, settling=FAST)
    assert report.outcomes == Counter({"rejected": 1}) and report.mutating_calls == 0
    assert platforms.simulator.mutation_log() == []


def test_a_dry_run_proposes_segment_cuts_and_mutates_nothing(engine: Engine, database_url: str) -> None:
    auto = {kind: "auto" for kind in KINDS}
    world = make_world(engine, database_url, defaults={"permissions": auto})
    summary = run_cycle(engine, world.config, {"simulator": world.simulator}, world.clock, dry_run=True)
    assert summary.accounts_failed == 0, summary.errors
    with engine.connect() as connection:
        segment_actions = [a for a in list_actions(connection) if a["kind"] in KINDS]
    assert segment_actions, "the simulated world has segments that clearly lose"
    assert {a["state"] for a in segment_actions} == {"reported"}
    assert all(a["dry_run"] for a in segment_actions)
    assert world.simulator.mutating_calls == 0 and world.simulator.mutation_log() == []


@pytest.mark.parametrize("kill_point", ["after_apply:1", "after_apply:2", "before_apply:2"])
def test_a_crash_mid_execution_never_repeats_a_segment_cut(kill_point: str, tmp_path: Path, engine: Engine,
                                                          database_url: str) -> None:
    world = make_world(engine, database_url)
    cuts = []
    for account_id, dimension, segments in (("shop-meta", "placement", ("audience_network_classic",)),
                                            ("shop-search", "device", ("tablet",))):
        for ad_set in world.active_ad_sets(account_id)[:2]:
            kind = "exclude_placement" if dimension == "placement" else "set_device_bid_modifier"
            to: dict[str, Any] = {"dimension": dimension, "segment": segments[0], "excluded": True}
            before: dict[str, Any] = {"dimension": dimension, "segment": segments[0], "excluded": False}
            if kind == "set_device_bid_modifier":
                to["bid_modifier"], before["bid_modifier"] = -1.0, None
            cuts.append(world.queue(Proposal(
                kind=kind, policy="segment_exclusions", account_id=account_id, entity_id=ad_set.entity_id,
                entity_level="ad_set", entity_name=ad_set.name, change={"from": before, "to": to},
                rationale="test", evidence={"spend_share": 0.1})))
    with engine.connect() as connection:
        keys = [a["idempotency_key"] for a in list_actions(connection) if a["id"] in cuts]
    config_path = write_crash_config(tmp_path, database_url)
    crashed = execute_in_subprocess(config_path, fault=kill_point)
    _, stderr = crashed.communicate(timeout=120)
    assert crashed.returncode == -signal.SIGKILL, stderr.decode()

    restarted = execute_in_subprocess(config_path)  # recovery on start, then the queue
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, (out + err).decode()

    applied = Counter(row["idempotency_key"] for row in world.simulator.mutation_log())
    assert applied == Counter({key: 1 for key in keys})
    with engine.connect() as connection:
        assert {a["state"] for a in list_actions(connection)} == {"executed"}
    for account_id, dimension in (("shop-meta", "placement"), ("shop-search", "device")):
        excluded = [e for e in world.simulator.entities(account_id) if e.level == "ad_set"
                    and _excluded(e, dimension)]
        assert len(excluded) == 2
