"""Labels and ad schedules under write faults, through the real connectors and SDKs against the fakes:
an answer dropped after the write, or a 5xx, leaves each label attached and each schedule written exactly
once, settled by reading the platform (labels and schedules are in the entities' live state)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.execution.executor import execute_approved
from agent.storage.action_states import create_action, list_actions, transition
from connectors.base import Connector
from policies.base import Proposal
from tests.integration.test_real_connectors_e2e import TODAY, Platforms, agent_config, platforms  # noqa: F401
from tests.integration.test_write_faults import (
    ACCOUNT,
    FAST,
    assert_once_each,
    connectors_for,
    settle_later,
    states,
)

WEEKEND = [*({"day": d, "start_hour": 0, "end_hour": 24, "bid_modifier": 1.0} for d in ("mon", "tue", "wed", "thu",
                                                                                      "fri")),
           {"day": "sat", "start_hour": 0, "end_hour": 24, "bid_modifier": 0.8},
           {"day": "sun", "start_hour": 0, "end_hour": 24, "bid_modifier": 0.8}]


def _approve(engine: Engine, connector: Connector, clock: Any, platform: str) -> list[int]:
    entities = list(connector.entities(ACCOUNT[platform]))
    ad_sets = [e for e in entities if e.level == "ad_set" and e.status == "ACTIVE"]
    proposals = [Proposal(kind="add_label", policy="test", account_id=e.account_id, entity_id=e.entity_id,
                          entity_level=e.level, entity_name=e.name, rationale="test label",
                          change={"from": {"label": "rule: review", "labeled": False},
                                  "to": {"label": "rule: review", "labeled": True}}) for e in ad_sets[:2]]
    if platform == "google_ads":
        campaign = next(e for e in entities if e.level == "campaign" and e.attributes.get("channel") == "SEARCH")
        proposals.append(Proposal(kind="set_ad_schedule", policy="test", account_id=campaign.account_id,
                                  entity_id=campaign.entity_id, entity_level="campaign", entity_name=campaign.name,
                                  rationale="test schedule",
                                  change={"from": {"ad_schedule": []}, "to": {"ad_schedule": WEEKEND}}))
    ids = []
    for proposal in proposals:
        with engine.begin() as connection:
            action_id = create_action(connection, proposal, cycle_id=None, permission="auto", dry_run=False,
                                      now=clock.now(), key_salt="label-faults")
            transition(connection, action_id, "approved", actor="test", reason="approved", now=clock.now())
        ids.append(action_id)
    return ids


@pytest.fixture
def world(database_url: str, platforms: Platforms) -> tuple[Any, FixedClock, dict[str, Connector]]:  # noqa: F811
    config = agent_config(database_url, permissions={kind: "auto" for kind in ("add_label", "remove_label",
                                                                               "set_ad_schedule")})
    clock = FixedClock.at_day(TODAY, hour=12)
    return config, clock, connectors_for(config, clock, platforms)


@pytest.mark.parametrize("platform", ["google_ads", "meta"])
@pytest.mark.parametrize("fault", ["drop_answer", "server_error"])
def test_labels_and_schedules_apply_exactly_once_under_write_faults(
        engine: Engine, platforms: Platforms, world: Any, platform: str, fault: str) -> None:  # noqa: F811
    config, clock, connectors = world
    ids = _approve(engine, connectors[platform], clock, platform)
    baseline = len(platforms.simulator.mutation_log())
    fake: Any = {"google_ads": platforms.google, "meta": platforms.meta}[platform]
    fake.faults.inject(fault, {"google_ads": "mutate:", "meta": "post:"}[platform], times=1, retry_delay=0)

    execute_approved(engine, connectors, config, clock, settling=FAST)
    for _ in range(3):  # later cycles: settle, then run what was not applied
        if set(states(engine, ids).values()) == {"executed"}:
            break
        settle_later(engine, config, clock, connectors)
        execute_approved(engine, connectors, config, clock, settling=FAST)

    with engine.connect() as connection:
        reasons = {a["id"]: a["decision_reason"] for a in list_actions(connection) if a["id"] in ids}
    assert "failed" not in states(engine, ids).values(), reasons
    if platform == "google_ads":  # the fake writes a schedule as one simulator change per operation
        labels = [m for m in platforms.simulator.mutation_log()[baseline:] if m["kind"] == "add_label"]
        assert sorted(m["entity_id"] for m in labels) == sorted({m["entity_id"] for m in labels})
        assert set(states(engine, ids).values()) == {"executed"}, reasons
        live = {e.entity_id: e for e in connectors[platform].entities(ACCOUNT[platform])}
        assert sum(1 for e in live.values() if "rule: review" in (e.attributes.get("labels") or [])) == 2, \
            (reasons, [(m["kind"], m["entity_id"], m["params"]) for m in platforms.simulator.mutation_log()[baseline:]], {e.entity_id: e.attributes.get("labels") for e in live.values() if e.level == "ad_set"})
    else:
        assert_once_each(engine, platforms, baseline, ids)
