"""The holdout draw at gate time (called from agent/cycle/account_turn.py).

The first eligible proposal for an (entity, kind) pair draws its arm with a seeded, recorded draw;
later proposals for the pair during the horizon take the same arm. Where the kind's unit is `campaign`
the draw is made once per (campaign, kind): every entity of the campaign proposed during that draw's
horizon gets a row of its own with the campaign's arm, seed and horizon end. A held-out proposal is recorded
with all its evidence and moved to the terminal state `held_out`: nothing can execute it after.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, RowMapping

from agent.experiments.copy_test_store import POLICY as COPY_TEST_POLICY
from agent.experiments.settings import ExperimentSettings
from agent.experiments.store import (
    current_arm,
    current_cluster_arm,
    experiment_summary,
    held_out_changes,
    record_draw,
)
from agent.storage.action_states import as_utc, json_ready, transition
from agent.storage.audit_trail import record_event
from agent.storage.store import campaign_of
from policies.base import Proposal
from policies.holdout import CAMPAIGN, ENTITY, HELD_OUT, Draw, draw_arm, draw_seed, guards_spend

# a proposal the gate would queue or execute can be drawn; one it reports or rejects is not a change
ELIGIBLE_STATES = frozenset({"approved", "pending_approval"})


def eligible(proposal: Proposal, gate_state: str, settings: ExperimentSettings, dry_run: bool) -> bool:
    """Whether the proposal takes part in an experiment: a real, gated change of a kind with a holdout
    share, that does not guard spend, and is not a copy test's own step (its launch or its loser's
    pause: the test is the experiment)."""
    return (not dry_run and gate_state in ELIGIBLE_STATES and settings.share_for(proposal.kind) > 0
            and not guards_spend(proposal) and proposal.policy != COPY_TEST_POLICY)


def repeats_held_out(connection: Connection, proposal: Proposal, now: datetime) -> bool:
    """True if the same change on the pair is already held out in its current horizon: recording it
    again every cycle would only repeat the row."""
    assignment = current_arm(connection, proposal.account_id, proposal.entity_id, proposal.kind, now)
    if assignment is None or assignment["arm"] != HELD_OUT:
        return False
    held = held_out_changes(connection, proposal.account_id, proposal.entity_id, proposal.kind,
                            assignment["drawn_at"])
    return json_ready(proposal.change) in held


def hold_out(connection: Connection, proposal: Proposal, action_id: int, settings: ExperimentSettings, *,
             cycle_id: int | None, now: datetime) -> bool:
    """Assign the pair's arm (drawing it if the pair has none in a live horizon: per entity, or per
    campaign where the kind's unit is `campaign`); move the action to `held_out` and return True when
    that arm is held out."""
    assignment = current_arm(connection, proposal.account_id, proposal.entity_id, proposal.kind, now)
    if assignment is None:
        assignment = _assign(connection, proposal, action_id, settings, cycle_id=cycle_id, now=now)
    summary = experiment_summary(assignment)
    if assignment["arm"] != HELD_OUT:
        return False
    transition(connection, action_id, HELD_OUT, actor="experiment", now=now, expected="proposed",
               reason=f"held out by a randomized experiment until {summary['horizon_end']}: recorded, never executed",
               data=summary, result={"experiment": summary})
    return True


def _assign(connection: Connection, proposal: Proposal, action_id: int, settings: ExperimentSettings, *,
            cycle_id: int | None, now: datetime) -> RowMapping:
    """Record the entity's assignment: its own draw, or its campaign's (drawn now if the campaign has
    no live draw for the kind, else the live one's arm, seed and horizon end)."""
    unit = settings.unit_for(proposal.kind)
    cluster = campaign_of(connection, proposal.account_id, proposal.entity_id) if unit == CAMPAIGN else None
    if cluster is None:  # per entity (or an entity whose campaign is not stored: it is its own unit)
        unit = ENTITY
    live = current_cluster_arm(connection, proposal.account_id, cluster, proposal.kind, now) if cluster else None
    if live is not None:  # the campaign's arm holds for its horizon
        draw = Draw(seed=int(live["draw_seed"]), uniform=float(live["draw_uniform"]), share=float(live["share"]),
                    arm=live["arm"])
        horizon_end, measure_after = as_utc(live["horizon_end"]), as_utc(live["measure_after"])
        how = f"takes campaign {cluster}'s arm {draw.arm} (drawn {as_utc(live['drawn_at']):%Y-%m-%d %H:%M}"
    else:
        horizon_end = now + timedelta(days=settings.horizon_days)
        measure_after = horizon_end + timedelta(days=settings.conversion_lag_days)
        seed = draw_seed(settings.seed, proposal.account_id, cluster or proposal.entity_id, proposal.kind,
                         now.isoformat(), unit)
        draw = draw_arm(seed, settings.share_for(proposal.kind))
        how = (f"{'campaign ' + cluster + ' ' if cluster else ''}drawn {draw.arm} "
               f"(u={draw.uniform:.4f} vs share {draw.share:.2f}")
    record_draw(connection, action_id=action_id, account_id=proposal.account_id, entity_id=proposal.entity_id,
                entity_level=proposal.entity_level, kind=proposal.kind, draw=draw, drawn_at=now,
                horizon_end=horizon_end, measure_after=measure_after, unit=unit, cluster_id=cluster)
    assignment = current_arm(connection, proposal.account_id, proposal.entity_id, proposal.kind, now)
    assert assignment is not None  # just written in this transaction
    record_event(connection, at=now, event="experiment_draw", actor="experiment",
                 message=f"{proposal.kind} on {proposal.entity_id}: {how}, seed {draw.seed})",
                 data=experiment_summary(assignment), cycle_id=cycle_id, action_id=action_id,
                 account_id=proposal.account_id)
    return assignment
