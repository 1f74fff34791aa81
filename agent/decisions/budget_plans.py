"""Budget plans run as a unit: all of a plan's legs, or none of those still to run.

A reallocation's set_budget legs carry their plan (`evidence["plan"]`, policies/budget_plan.py);
the account's total daily budget is the plan's total only if every leg runs. So:

- the gate records a plan's legs together, with one decision for all of them (one leg that needs
  approval sends the whole plan for approval; one rejected leg rejects the plan);
- a newer plan, or a plain budget proposal, for an entity with an open leg of an older plan that
  has not started supersedes every open leg of that plan together, never a subset; once a plan
  has started (a leg executed, executing or with an unknown outcome), newer budget proposals for
  its entities wait until it has finished;
- the executor applies a plan's remaining legs in one batch: a leg that cannot run now (held,
  waiting for approval, in flight elsewhere) holds the others; a leg that will never run (drift,
  a guardrail, rejected, expired) supersedes the others if nothing of the plan was applied yet;
  after a crash, the remaining legs of a started plan run together (the closest the account can
  get to the plan's total), and a leg that can no longer run is reported with the shortfall.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from sqlalchemy import Connection, Engine, RowMapping

from agent.clock import Clock
from agent.decisions.gate import Decision
from agent.decisions.guardrails import GuardrailContext
from agent.errors import StaleTransition
from agent.storage import audit_trail
from agent.storage.action_queries import budget_actions_on, budget_actions_since
from agent.storage.action_states import HISTORY_WINDOW, create_action, json_ready, transition
from agent.storage.db_retry import attempts, retry_unit, transition_retrying
from policies.base import Proposal
from policies.budget_plan import plan_of

# a leg in one of these states may be on the platform: its plan has started
STARTED_STATES: frozenset[str] = frozenset({"executing", "unknown", "executed"})
WAITING_STATES: frozenset[str] = frozenset({"proposed", "pending_approval", "approved"})


def legs_of(connection: Connection, account_id: str, plan_id: str, now: datetime) -> list[RowMapping]:
    """Every recorded leg of a plan, in any state (plans are a day's; older ones are not looked at)."""
    return [a for a in budget_actions_since(connection, account_id, now - HISTORY_WINDOW)
            if plan_of(a["evidence"]) == plan_id]


def has_started(legs: Sequence[RowMapping]) -> bool:
    return any(leg["state"] in STARTED_STATES for leg in legs)


def _open_budget_actions(connection: Connection, account_id: str, entity_id: str) -> list[RowMapping]:
    return budget_actions_on(connection, account_id, entity_id, WAITING_STATES | {"executing", "unknown"})


def supersede_legs(connection: Connection, legs: Sequence[RowMapping], reason: str, now: datetime) -> int:
    """Every waiting leg of a plan superseded, in one transaction with the caller's other writes."""
    moved = 0
    for leg in legs:
        if leg["state"] not in WAITING_STATES:
            continue
        transition(connection, leg["id"], "superseded", actor="gate", now=now, expected=leg["state"], reason=reason)
        moved += 1
    return moved


def yield_to_plans(connection: Connection, proposal: Proposal, cycle_id: int, now: datetime) -> str | None:
    """Before a plain budget proposal replaces an open one on its entity: if that one is a leg of a
    started plan, the reason the proposal must wait; if of a plan not started, every open leg of
    that plan is superseded together (and None returned)."""
    if proposal.kind != "set_budget":
        return None
    for existing in _open_budget_actions(connection, proposal.account_id, proposal.entity_id):
        plan_id = plan_of(existing["evidence"])
        if plan_id is None:
            continue
        legs = legs_of(connection, proposal.account_id, plan_id, now)
        if has_started(legs):
            return f"budget plan {plan_id} is being carried out: its remaining legs run first"
        supersede_legs(connection, legs, f"plan {plan_id} superseded as a whole by a newer {proposal.policy} "
                                         f"proposal for {proposal.entity_id} in cycle {cycle_id}", now)
    return None


def split_plans(proposals: Sequence[Proposal]) -> tuple[list[Proposal], dict[str, list[Proposal]]]:
    """(proposals that are no plan's legs, {plan id: its legs})."""
    singles: list[Proposal] = []
    plans: dict[str, list[Proposal]] = defaultdict(list)
    for proposal in proposals:
        plan_id = plan_of(proposal.evidence)
        if plan_id is None:
            singles.append(proposal)
        else:
            plans[plan_id].append(proposal)
    return singles, dict(plans)


def _admit(connection: Connection, plan_id: str, legs: Sequence[Proposal], cycle_id: int, now: datetime,
           recent_since: datetime) -> str | None:
    """Why a new plan is not recorded (None: it may be, once what it replaces is superseded)."""
    account_id = legs[0].account_id
    if legs_of(connection, account_id, plan_id, now):
        return f"budget plan {plan_id} is already recorded"
    replaced: dict[str, list[RowMapping]] = {}
    plain: list[RowMapping] = []
    for leg in legs:
        recent = budget_actions_on(connection, account_id, leg.entity_id, ("reported", "rejected"),
                                   created_since=recent_since)
        if any(r["change"] == json_ready(leg.change) for r in recent):
            return f"its leg on {leg.entity_id} was reported or rejected recently"
        for existing in _open_budget_actions(connection, account_id, leg.entity_id):
            if existing["state"] not in WAITING_STATES:
                return f"a budget change on {leg.entity_id} is in flight (action {existing['id']})"
            other = plan_of(existing["evidence"])
            if other is None:
                plain.append(existing)
                continue
            if other not in replaced:
                replaced[other] = legs_of(connection, account_id, other, now)
            if has_started(replaced[other]):
                return f"budget plan {other} on {leg.entity_id} is being carried out: it finishes first"
    for other, other_legs in replaced.items():
        supersede_legs(connection, other_legs, f"plan {other} superseded as a whole by plan {plan_id} "
                                               f"in cycle {cycle_id}", now)
    supersede_legs(connection, plain, f"superseded by plan {plan_id} in cycle {cycle_id}", now)
    return None


def _one_decision(decisions: Sequence[Decision], legs: Sequence[Proposal]) -> tuple[str, str, Decision]:
    """One state for every leg of a plan, from each leg's own decision: the most cautious one
    (rejected, then reported, then pending approval), with the leg and decision that set it."""
    for wanted in ("rejected", "reported", "pending_approval"):
        for decision, leg in zip(decisions, legs, strict=True):
            if decision.state == wanted:
                return wanted, leg.entity_id, decision
    return decisions[0].state, legs[0].entity_id, decisions[0]


def gate_plan(connection: Connection, plan_id: str, legs: Sequence[Proposal],
              decide_leg: Callable[[Proposal, GuardrailContext], Decision], ctx: GuardrailContext, *,
              cycle_id: int, dry_run: bool, now: datetime, recent_since: datetime, approval_ttl: timedelta,
              counts: Counter[str]) -> GuardrailContext:
    """Record a plan's legs with one decision for all of them, or none of them (with the reason in
    the audit trail). Returns the guardrail context for the proposals gated after it."""
    account_id = legs[0].account_id
    reason = None if dry_run else _admit(connection, plan_id, legs, cycle_id, now, recent_since)
    decisions: list[Decision] = []
    after = ctx
    for leg in legs if reason is None else ():
        decision = decide_leg(leg, after)
        decisions.append(decision)
        if decision.state == "approved":
            after = replace(after, automatic_actions_this_cycle=after.automatic_actions_this_cycle + 1)
    rejected = [d for d in decisions if d.state == "rejected"]
    cooling = bool(rejected) and all(set(d.rules) == {"cooldown"} for d in rejected)
    if cooling:
        reason = f"a leg is cooling down: {rejected[0].reason}"
    if reason is not None:
        audit_trail.record_event(connection, at=now, event="proposal_skipped", actor="gate",
                                 message=f"budget plan {plan_id} ({len(legs)} legs) not recorded: {reason}",
                                 cycle_id=cycle_id, account_id=account_id)
        counts["cooling_down" if cooling else "already_open"] += len(legs)
        return ctx
    state, culprit, deciding = _one_decision(decisions, legs)
    for leg, decision in zip(legs, decisions, strict=True):
        action_id = create_action(connection, leg, cycle_id=cycle_id, permission=decision.permission,
                                  dry_run=dry_run, now=now)
        why = decision.reason if decision.state == state else (
            f"{deciding.reason} (budget plan {plan_id} is decided as a whole: its leg on {culprit})")
        transition(connection, action_id, state, actor="gate", reason=why, now=now,
                   data={"permission": decision.permission, "dry_run": dry_run, "plan": plan_id},
                   expires_at=now + approval_ttl if state == "pending_approval" else None)
        counts[state] += 1
    return after if state == "approved" else ctx


def keep_plans_whole(engine: Engine, ready: Sequence[RowMapping], clock: Clock, worker: str,
                     add: Callable[[str, int], None]) -> list[RowMapping]:
    """Of the claimed actions about to be applied, those that may go: a plan's legs only with all
    its other unexecuted legs. The others are moved back to `approved` (held) or, if the plan can no
    longer run and nothing of it was applied, superseded; `add(outcome, count)` counts them."""
    by_plan: dict[str, list[RowMapping]] = defaultdict(list)
    going: list[RowMapping] = []
    for action in ready:
        plan_id = plan_of(action["evidence"])
        (by_plan[plan_id] if plan_id else going).append(action)
    for plan_id, ready_legs in by_plan.items():
        now = clock.now()
        account_id = ready_legs[0]["account_id"]
        legs = retry_unit(partial(_read_legs, engine, account_id, plan_id, now))
        ready_ids = {a["id"] for a in ready_legs}
        others = [leg for leg in legs if leg["id"] not in ready_ids and leg["state"] != "executed"]
        waiting = [leg for leg in others if leg["state"] in WAITING_STATES | {"executing", "unknown"}]
        if not others or (not waiting and any(leg["state"] == "executed" for leg in legs)):
            going += ready_legs
            if others:
                _report_shortfall(engine, plan_id, legs, others, now, account_id)
            continue
        if waiting:
            state, outcome = "approved", "held"
            why = (f"held: plan {plan_id} runs as a unit and its leg on {waiting[0]['entity_id']} is "
                   f"{waiting[0]['state']}")
        else:
            state, outcome = "superseded", "superseded"
            why = (f"plan {plan_id} cannot run as a whole: its leg on {others[0]['entity_id']} is "
                   f"{others[0]['state']} ({others[0]['decision_reason']}); nothing of it was applied")
        for leg in ready_legs:
            try:
                transition_retrying(engine, leg["id"], state, actor=worker, now=now, expected="executing",
                                    reason=why, data={"plan": plan_id})
                add(outcome, 1)
            except StaleTransition:
                continue
    return going


def _read_legs(engine: Engine, account_id: str, plan_id: str, now: datetime) -> list[RowMapping]:
    with engine.connect() as connection:
        return list(legs_of(connection, account_id, plan_id, now))


def _report_shortfall(engine: Engine, plan_id: str, legs: Sequence[RowMapping], missing: Sequence[RowMapping],
                      now: datetime, account_id: str) -> None:
    """A started plan whose other legs will never run: what the account's total misses, for people."""
    shortfall = sum((Decimal(str(leg["change"]["to"]["daily_budget"])) - Decimal(str(leg["change"]["from"]["daily_budget"]))
                     for leg in missing), Decimal(0))
    for attempt in attempts():
        with attempt, engine.begin() as connection:
            audit_trail.record_event(
                connection, at=now, event="plan_incomplete", actor="executor",
                message=(f"budget plan {plan_id}: its legs on {', '.join(leg['entity_id'] for leg in missing)} will "
                         f"not run ({missing[0]['state']}); the others do, and the account's daily total differs "
                         f"from the plan's by {-shortfall}"),
                data={"plan": plan_id, "legs": [leg["id"] for leg in legs], "missing": [leg["id"] for leg in missing],
                      "difference": str(-shortfall)},
                account_id=account_id)
