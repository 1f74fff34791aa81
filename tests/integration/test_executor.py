"""Exactly-once execution against the simulator: drift, kill switch, reconciliation, expiry."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from agent.errors import IllegalTransition
from agent.execution.executor import execute_approved, mutation_for
from agent.execution.reconcile import reconcile
from agent.storage import flags
from agent.storage.action_states import expire_stale, get_action, transition
from agent.storage.models import AuditEvent
from connectors.records import Mutation
from policies.base import Proposal
from tests.integration.conftest import SimWorld, budget_proposal, pause_proposal


def state_of(world: SimWorld, action_id: int) -> str:
    with world.engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None
    return str(action["state"])


def execute(world: SimWorld) -> Counter[str]:
    return execute_approved(world.engine, world.connectors, world.config, world.clock).outcomes


def test_approved_actions_execute_once_and_change_the_world(sim_world: SimWorld) -> None:
    ad_set = sim_world.active_ad_sets("shop-meta")[0]
    holder = sim_world.budget_holders("shop-search")[0]
    pause_id = sim_world.queue(pause_proposal(ad_set))
    budget_id = sim_world.queue(budget_proposal(holder, "1.10"))
    assert execute(sim_world) == Counter({"executed": 2})
    assert sim_world.live("shop-meta")[ad_set.entity_id].status == "PAUSED"
    assert holder.daily_budget is not None
    assert sim_world.live("shop-search")[holder.entity_id].daily_budget == (holder.daily_budget * Decimal("1.10")
                                                                            ).quantize(Decimal("0.01"))
    # a second run finds nothing to do; the platform saw each change once
    assert execute(sim_world) == Counter()
    log = sim_world.simulator.mutation_log()
    assert sorted(row["entity_id"] for row in log) == sorted([ad_set.entity_id, holder.entity_id])
    assert state_of(sim_world, pause_id) == state_of(sim_world, budget_id) == "executed"
    with sim_world.engine.connect() as connection:
        events = connection.execute(select(AuditEvent.event, AuditEvent.actor).where(
            AuditEvent.action_id == pause_id).order_by(AuditEvent.id)).all()
    assert [e.event for e in events] == ["proposal", "state:pending_approval", "state:approved", "state:executing",
                                         "state:executed"]
    assert events[2].actor == "test:tester"


def test_drift_supersedes_instead_of_overwriting_a_human_change(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    action_id = sim_world.queue(budget_proposal(holder, "1.15"))
    sim_world.simulator.apply_as_human("shop-meta", Mutation(
        kind="set_budget", account_id="shop-meta", entity_id=holder.entity_id,
        params={"daily_budget": "77.00"}, idempotency_key="human-edit"))
    assert execute(sim_world) == Counter({"superseded": 1})
    assert state_of(sim_world, action_id) == "superseded"
    assert sim_world.live("shop-meta")[holder.entity_id].daily_budget == Decimal("77.00")
    assert [row["actor"] for row in sim_world.simulator.mutation_log()] == ["human"]


def test_kill_switch_holds_approved_actions_until_resume(sim_world: SimWorld) -> None:
    ad_sets = sim_world.active_ad_sets("shop-meta")[:2]
    ids = [sim_world.queue(pause_proposal(a)) for a in ad_sets]
    with sim_world.engine.begin() as connection:
        flags.set_flag(connection, flags.KILL_SWITCH, True, "ops", sim_world.clock.now())
    assert execute(sim_world) == Counter({"held": 2})
    assert [state_of(sim_world, i) for i in ids] == ["approved", "approved"]
    assert sim_world.simulator.mutation_log() == []
    # meanwhile a human re-paused one of them by hand: the fresh drift check on resume notices
    sim_world.simulator.apply_as_human("shop-meta", Mutation(
        kind="pause", account_id="shop-meta", entity_id=ad_sets[1].entity_id, params={}, idempotency_key="h"))
    with sim_world.engine.begin() as connection:
        flags.set_flag(connection, flags.KILL_SWITCH, False, "ops", sim_world.clock.now())
    assert execute(sim_world) == Counter({"executed": 1, "superseded": 1})
    assert [state_of(sim_world, i) for i in ids] == ["executed", "superseded"]


def test_guardrails_are_checked_again_at_execution(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    # approved by a human, but a 50% raise breaks the per-change limit: rejected, never applied
    action_id = sim_world.queue(budget_proposal(holder, "1.50"))
    assert execute(sim_world) == Counter({"rejected": 1})
    assert state_of(sim_world, action_id) == "rejected"
    assert sim_world.simulator.mutation_log() == []


def test_cooldown_at_execution_blocks_a_second_change_to_the_same_entity(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    first = sim_world.queue(budget_proposal(holder, "1.10"))
    assert execute(sim_world) == Counter({"executed": 1})
    sim_world.clock.advance(timedelta(hours=5))
    live = sim_world.live("shop-meta")[holder.entity_id]
    second = sim_world.queue(budget_proposal(live, "0.95"))
    assert execute(sim_world) == Counter({"rejected": 1})
    assert (state_of(sim_world, first), state_of(sim_world, second)) == ("executed", "rejected")


def test_an_unknown_outcome_counts_as_applied_for_cooldowns_until_settled(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    first = sim_world.queue(budget_proposal(holder, "1.10"))
    now = sim_world.clock.now()
    with sim_world.engine.begin() as connection:  # sent, answer lost: nobody knows whether it applied
        transition(connection, first, "executing", actor="executor", reason="claimed", now=now)
        transition(connection, first, "unknown", actor="executor", reason="timed out", now=now)
    sim_world.clock.advance(timedelta(hours=5))
    second = sim_world.queue(budget_proposal(holder, "0.95"))
    assert execute(sim_world) == Counter({"rejected": 1})  # the cooldown counts the unknown change
    assert (state_of(sim_world, first), state_of(sim_world, second)) == ("unknown", "rejected")
    assert sim_world.simulator.mutation_log() == []
    # the platform shows it was not applied (long enough ago): back in the queue, never `failed`
    report = reconcile(sim_world.engine, sim_world.connectors, sim_world.config, sim_world.clock)
    assert report.outcomes == Counter({"settled_approved": 1}) and state_of(sim_world, first) == "approved"


def test_reconcile_leaves_what_the_platform_cannot_confirm_unknown_not_failed(sim_world: SimWorld) -> None:
    holder = sim_world.budget_holders("shop-meta")[0]
    action_id = sim_world.queue(budget_proposal(holder, "1.10"))
    with sim_world.engine.begin() as connection:  # a crash right after sending
        transition(connection, action_id, "executing", actor="crashed-worker", reason="claimed",
                   now=sim_world.clock.now())
    sim_world.simulator.apply_as_human("shop-meta", Mutation(  # then a person set another budget
        kind="set_budget", account_id="shop-meta", entity_id=holder.entity_id,
        params={"daily_budget": "77.00"}, idempotency_key="human-edit"))
    report = reconcile(sim_world.engine, sim_world.connectors, sim_world.config, sim_world.clock)
    assert report.outcomes["reconciled_unknown"] == 1 and state_of(sim_world, action_id) == "unknown"
    assert report.write_problems and "still unknown" in report.write_problems[0]


def test_reconcile_marks_applied_work_executed_and_requeues_the_rest(sim_world: SimWorld) -> None:
    applied_set, pending_set = sim_world.active_ad_sets("shop-meta")[:2]
    applied_id = sim_world.queue(pause_proposal(applied_set))
    pending_id = sim_world.queue(pause_proposal(pending_set))
    now = sim_world.clock.now()
    # a crash: both claimed, only the first reached the platform
    with sim_world.engine.begin() as connection:
        for action_id in (applied_id, pending_id):
            transition(connection, action_id, "executing", actor="crashed-worker", reason="claimed", now=now)
        action = get_action(connection, applied_id)
    assert action is not None
    sim_world.simulator.apply("shop-meta", [Mutation(kind="pause", account_id="shop-meta",
                                                     entity_id=applied_set.entity_id, params={},
                                                     idempotency_key=action["idempotency_key"])])
    report = reconcile(sim_world.engine, sim_world.connectors, sim_world.config, sim_world.clock)
    assert report.outcomes == Counter({"reconciled_executed": 1, "reconciled_requeued": 1})
    assert execute(sim_world) == Counter({"executed": 1})
    assert sorted(row["entity_id"] for row in sim_world.simulator.mutation_log()) == sorted(
        [applied_set.entity_id, pending_set.entity_id])
    assert state_of(sim_world, applied_id) == state_of(sim_world, pending_id) == "executed"


def test_pending_approvals_expire_after_their_ttl(sim_world: SimWorld) -> None:
    action_id = sim_world.queue(pause_proposal(sim_world.active_ad_sets("shop-meta")[0]), state="pending_approval")
    with sim_world.engine.begin() as connection:
        assert expire_stale(connection, sim_world.clock.now() + timedelta(hours=23)) == 0
        assert expire_stale(connection, sim_world.clock.now() + timedelta(hours=25)) == 1
    assert state_of(sim_world, action_id) == "expired"
    with sim_world.engine.begin() as connection, pytest.raises(IllegalTransition):
        transition(connection, action_id, "approved", actor="late", reason="too late", now=sim_world.clock.now())


def test_two_changes_to_one_entity_in_one_batch_do_not_stack(sim_world: SimWorld) -> None:
    """Found by the guardrail property test: both were computed from the same old budget."""
    holder = sim_world.budget_holders("shop-meta")[0]
    first = sim_world.queue(budget_proposal(holder, "0.80"))
    second = sim_world.queue(budget_proposal(holder, "0.95"))
    assert execute(sim_world) == Counter({"executed": 1, "superseded": 1})
    assert (state_of(sim_world, first), state_of(sim_world, second)) == ("executed", "superseded")
    assert holder.daily_budget is not None
    assert sim_world.live("shop-meta")[holder.entity_id].daily_budget == (holder.daily_budget * Decimal("0.80")
                                                                          ).quantize(Decimal("0.01"))


def new_ad_proposal(ad_set: Any) -> Proposal:
    return Proposal(kind="new_ad", policy="test", account_id=ad_set.account_id, entity_id=ad_set.entity_id,
                    entity_level="ad_set", entity_name=ad_set.name,
                    change={"from": {}, "to": {"headline": "Fresh beans weekly", "description": "Roasted to order.",
                                               "status": "PAUSED"}},
                    rationale="test new ad")


def test_a_new_ad_applied_before_a_crash_is_not_created_again(sim_world: SimWorld) -> None:
    """Found by the service crash test: the new ad's `status: PAUSED` is not the ad set's status."""
    ad_set = sim_world.active_ad_sets("shop-meta")[0]
    action_id = sim_world.queue(new_ad_proposal(ad_set))
    with sim_world.engine.begin() as connection:
        transition(connection, action_id, "executing", actor="crashed-worker", reason="claimed",
                   now=sim_world.clock.now())
        action = get_action(connection, action_id)
    assert action is not None
    sim_world.simulator.apply("shop-meta", [mutation_for(action)])
    report = reconcile(sim_world.engine, sim_world.connectors, sim_world.config, sim_world.clock)
    assert report.outcomes == Counter({"reconciled_executed": 1})
    assert execute(sim_world) == Counter()
    assert len(sim_world.simulator.mutation_log()) == 1


def test_a_new_ad_and_a_pause_of_its_ad_set_in_one_batch_both_apply(sim_world: SimWorld) -> None:
    ad_set = sim_world.active_ad_sets("shop-meta")[0]
    sim_world.queue(new_ad_proposal(ad_set))
    sim_world.queue(pause_proposal(ad_set))
    assert execute(sim_world) == Counter({"executed": 2})
    assert sim_world.live("shop-meta")[ad_set.entity_id].status == "PAUSED"
