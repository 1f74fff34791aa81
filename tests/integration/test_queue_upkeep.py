"""The approval queue over days with nobody deciding: questions stay asked while their evidence
holds, are asked again only when the change differs, and expire when the evidence is gone."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from sqlalchemy import text

from agent.decisions.queue_upkeep import keep_pending
from agent.storage.action_states import get_action
from bench.queue_churn import measure
from policies.base import Proposal
from policies.settings import BudgetChurnSettings
from tests.integration.conftest import SimWorld, budget_proposal, small_config

TTL = timedelta(hours=24)


def _upkeep(world: SimWorld, proposals: list[Proposal], today: date) -> list[Proposal]:
    with world.engine.begin() as connection:
        upkeep = keep_pending(connection, "shop-meta", proposals, entities=world.live("shop-meta"),
                              churn=BudgetChurnSettings(), drafting_ad_sets=(), now=world.clock.now(), ttl=TTL,
                              today=today, grace_days=2)
    return upkeep.to_gate


def _action(world: SimWorld, action_id: int) -> dict[str, object]:
    with world.engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None
    return dict(action)


def _with_evidence(proposal: Proposal, **evidence: object) -> Proposal:
    return Proposal(**{**proposal.__dict__, "evidence": evidence})


def test_a_proposal_made_again_stays_pending_with_fresh_evidence(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    asked = _with_evidence(budget_proposal(holder, "1.15"), roas=2.0)
    action_id = sim_world.queue(asked, state="pending_approval")
    sim_world.clock.advance(timedelta(days=1))

    to_gate = _upkeep(sim_world, [_with_evidence(asked, roas=2.4)], date(2026, 11, 24))

    action = _action(sim_world, action_id)
    assert to_gate == []  # not recorded a second time
    assert action["state"] == "pending_approval"
    assert action["evidence"] == {"roas": 2.4}
    assert action["expires_at"].replace(tzinfo=None) == (sim_world.clock.now() + TTL).replace(tzinfo=None)  # type: ignore[attr-defined]


def test_evidence_that_did_not_change_moves_the_deadline_and_leaves_no_audit_event(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    asked = _with_evidence(budget_proposal(holder, "1.15"), roas=2.0)
    action_id = sim_world.queue(asked, state="pending_approval")
    refreshed = []
    for hour in range(3):  # hourly cycles on the same day's data, then one where it moved
        sim_world.clock.advance(timedelta(hours=1))
        _upkeep(sim_world, [_with_evidence(asked, roas=2.0 if hour < 2 else 2.2)], date(2026, 11, 23))
        with sim_world.engine.connect() as connection:
            refreshed.append(connection.execute(text(
                "SELECT count(*) FROM audit_events WHERE action_id = :id AND event = 'evidence_refreshed'"),
                {"id": action_id}).scalar_one())

    action = _action(sim_world, action_id)
    assert refreshed == [0, 0, 1]
    assert action["evidence"] == {"roas": 2.2}
    assert action["expires_at"].replace(tzinfo=None) == (sim_world.clock.now() + TTL).replace(tzinfo=None)  # type: ignore[attr-defined]


def test_an_immaterially_different_amount_keeps_the_amount_that_was_asked(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    asked = budget_proposal(holder, "1.15")
    action_id = sim_world.queue(asked, state="pending_approval")

    to_gate = _upkeep(sim_world, [budget_proposal(holder, "1.16")], date(2026, 11, 23))

    action = _action(sim_world, action_id)
    assert to_gate == [] and action["state"] == "pending_approval"
    assert action["change"] == {"from": asked.change["from"], "to": asked.change["to"]}  # what the person sees
    assert "latest_recommendation" in action["evidence"]  # type: ignore[operator]


def test_another_amount_goes_to_the_gate_to_be_asked_again(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    action_id = sim_world.queue(budget_proposal(holder, "1.15"), state="pending_approval")
    other = budget_proposal(holder, "0.85")

    to_gate = _upkeep(sim_world, [other], date(2026, 11, 23))

    # the gate records it and supersedes the old question (agent/cycle/account_turn.py `_already_open`)
    assert to_gate == [other]
    assert _action(sim_world, action_id)["change"] != other.change


def test_a_proposal_no_longer_made_expires_after_the_grace_days(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    action_id = sim_world.queue(budget_proposal(holder, "1.15"), state="pending_approval")

    _upkeep(sim_world, [], date(2026, 11, 24))
    _upkeep(sim_world, [], date(2026, 11, 25))
    assert _action(sim_world, action_id)["state"] == "pending_approval"  # a flicker is tolerated
    _upkeep(sim_world, [], date(2026, 11, 26))

    action = _action(sim_world, action_id)
    assert action["state"] == "expired"
    assert "no longer holds" in str(action["decision_reason"])


def test_re_proposals_after_expiry_stay_under_a_tenth_of_proposals(tmp_path: Path) -> None:
    raw = small_config("sqlite://")
    raw["accounts"][0]["monthly_budget"] = 9000
    raw["accounts"][1]["monthly_budget"] = 12000
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(raw))

    figures = measure(6, config_file, date(2026, 11, 23))

    assert figures["proposals"] > 0
    assert figures["reproposed_after_expiry"] < Decimal("0.1") * figures["proposals"], figures
    assert len(figures["pending_per_day"]) == 6
