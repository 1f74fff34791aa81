"""Keeping the approval queue steady from one cycle to the next.

A proposal awaiting a decision is a question put to a person. It stays asked while its evidence
holds: each cycle, the account's pending actions are compared with what the policies propose now.

- Proposed again with the same change (for a budget: within the materiality threshold of the
  amount asked, policies/budget_churn.py): the action stays pending with this cycle's evidence and
  a later deadline; the new proposal is not recorded again. The amount asked is kept: nobody
  approves an amount they did not see.
- Proposed with another change (another amount, another target): the gate supersedes the pending
  action and asks again (budgets and statuses in agent/cycle/account_turn.py, additive kinds here).
- Not proposed any more: its evidence has changed, so it expires, not on a timer. A signal near
  its threshold flickers from one day to the next, so a question may go unconfirmed on
  `guardrails.evidence_grace_days` days (default 2, the account's days) before it expires; its
  evidence then says since when (`not_proposed_since`).

A budget plan's legs (agent/decisions/budget_plans.py) are kept, or expired, together. A `new_ad` draft is
not drafted again while it waits; it holds while its ad set still has a reason for new copy.
The approval TTL (`guardrails.approval_ttl_hours`) only catches questions no cycle has refreshed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, RowMapping

from agent.decisions.effects import still_to_add
from agent.decisions.gate import KIND_PRIORITY as STATE_SETTING_KINDS
from agent.storage.action_states import json_ready, pending_for_account, refresh_evidence, transition
from connectors.records import Entity
from policies.base import Proposal
from policies.budget_churn import smallest_move
from policies.budget_plan import plan_of
from policies.settings import BudgetChurnSettings

EVIDENCE_GONE = "its evidence no longer holds: the policies have stopped proposing it"
UNSUPPORTED_KEY = "not_proposed_since"  # in a kept action's evidence: the first local day it was not proposed


@dataclass
class Upkeep:
    """What is left to gate, and what happened to the queue."""

    to_gate: list[Proposal]
    counts: Counter[str] = field(default_factory=Counter)


def _budget(change: Any, side: str) -> Decimal | None:
    try:
        return Decimal(str(change[side]["daily_budget"]))
    except (KeyError, TypeError, InvalidOperation):
        return None


def same_change(asked: RowMapping, proposal: Proposal, churn: BudgetChurnSettings) -> bool:
    """True if `proposal` asks what the pending action asks: the same change, or for a budget from
    the same budget, the same way, by an amount within the materiality threshold of the one asked."""
    if asked["change"] == json_ready(proposal.change):
        return True
    if proposal.kind != "set_budget":
        return False
    before, asked_to = _budget(asked["change"], "from"), _budget(asked["change"], "to")
    now_from, now_to = _budget(proposal.change, "from"), _budget(proposal.change, "to")
    if None in (before, asked_to, now_from, now_to) or before != now_from:
        return False
    assert before is not None and asked_to is not None and now_to is not None
    same_way = (asked_to > before) == (now_to > before)
    return same_way and abs(now_to - asked_to) < smallest_move(before, churn)


@dataclass(frozen=True)
class Grace:
    """How long an unconfirmed proposal is kept: `days` local days, counted from `today`."""

    today: date
    days: int


def _unconfirmed_since(action: RowMapping, today: date) -> date:
    try:
        return date.fromisoformat(str(action["evidence"][UNSUPPORTED_KEY]))
    except (KeyError, ValueError):
        return today


def _refresh(connection: Connection, action: RowMapping, proposal: Proposal, now: datetime,
             expires_at: datetime, keep_change_note: bool = True) -> None:
    evidence = dict(proposal.evidence)
    if keep_change_note and action["change"] != json_ready(proposal.change):
        evidence["latest_recommendation"] = dict(proposal.change.get("to", {}))
    refresh_evidence(connection, action, evidence, now=now, expires_at=expires_at,
                     message=f"{action['kind']} on {action['entity_id']} still holds: evidence refreshed")


def keep_pending(connection: Connection, account_id: str, proposals: Sequence[Proposal], *,
                 entities: Mapping[str, Entity], churn: BudgetChurnSettings, drafting_ad_sets: Collection[str],
                 now: datetime,
                 ttl: timedelta, today: date, grace_days: int) -> Upkeep:
    """Compare the account's pending actions with this cycle's `proposals` (the gate's winners):
    keep, supersede or expire each one; the proposals still to gate. `entities`: the account's as
    stored; `drafting_ad_sets`: ad sets that still have a reason for new copy (their drafts hold)."""
    expires_at = now + ttl
    grace = Grace(today, grace_days)
    to_gate = list(proposals)
    upkeep = Upkeep(to_gate)
    by_key: dict[tuple[str, str], list[Proposal]] = defaultdict(list)
    for proposal in proposals:
        by_key[(proposal.entity_id, proposal.kind)].append(proposal)
    pending = pending_for_account(connection, account_id)
    plans: dict[str, list[RowMapping]] = defaultdict(list)
    for action in pending:
        plan_id = plan_of(action["evidence"])
        if plan_id is not None:
            plans[plan_id].append(action)
            continue
        fresh = [p for p in by_key.get((action["entity_id"], action["kind"]), []) if plan_of(p.evidence) is None]
        match = next((p for p in fresh if same_change(action, p, churn)), None)
        if match is not None and match not in to_gate:  # an older action already holds it: one is enough
            transition(connection, action["id"], "superseded", actor="gate", now=now, expected="pending_approval",
                       reason="the same change already waits for a decision in an older action")
            upkeep.counts["superseded_duplicate"] += 1
        elif match is not None:
            _refresh(connection, action, match, now, expires_at)
            to_gate.remove(match)
            upkeep.counts["already_open"] += 1
        elif action["kind"] == "new_ad" and action["entity_id"] in drafting_ad_sets:
            evidence = {k: v for k, v in action["evidence"].items() if k != UNSUPPORTED_KEY}
            refresh_evidence(connection, action, evidence, now=now, expires_at=expires_at,
                             message=f"new_ad on {action['entity_id']}: its ad set still needs new copy")
            upkeep.counts["already_open"] += 1
        elif fresh_here := by_key.get((action["entity_id"], action["kind"])):
            if action["kind"] in STATE_SETTING_KINDS:
                continue  # budgets and statuses: the gate supersedes it with the new change
            adds_nothing = [p for p in fresh_here if still_to_add(connection, p, entities, now)[0] is None]
            if adds_nothing:  # e.g. a person applied part of the list by hand: what waits still holds
                _refresh(connection, action, adds_nothing[0], now, expires_at, keep_change_note=False)
                for proposal in adds_nothing:
                    if proposal in to_gate:  # two waiting actions may hold the same proposal
                        to_gate.remove(proposal)
                upkeep.counts["already_open"] += 1
                continue
            transition(connection, action["id"], "superseded", actor="gate", now=now, expected="pending_approval",
                       reason="a different change is proposed now: approval is asked again")
            upkeep.counts["superseded_by_change"] += 1
        else:
            _unsupported(connection, [action], grace, upkeep, now, expires_at)
    for legs in plans.values():
        _keep_plan(connection, legs, by_key, upkeep, churn, grace, now, expires_at)
    return upkeep


def _unsupported(connection: Connection, actions: Sequence[RowMapping], grace: Grace, upkeep: Upkeep,
                 now: datetime, expires_at: datetime) -> None:
    """Actions this cycle did not propose again: tolerated on `grace.days` days (a signal near its
    threshold flickers from day to day), then expired (together, for a plan's legs)."""
    since = min(_unconfirmed_since(a, grace.today) for a in actions)
    days = (grace.today - since).days + 1
    if days <= grace.days:
        for action in actions:
            refresh_evidence(connection, action, {**action["evidence"], UNSUPPORTED_KEY: since.isoformat()},
                             now=now, expires_at=expires_at,
                             message=f"{action['kind']} on {action['entity_id']} was not proposed again (day {days} "
                                     f"of {grace.days} tolerated): kept for now")
        upkeep.counts["kept_unconfirmed"] += len(actions)
        return
    plan = plan_of(actions[0]["evidence"])
    for action in actions:
        transition(connection, action["id"], "expired", actor="gate", now=now, expected="pending_approval",
                   reason=EVIDENCE_GONE + (f" (budget plan {plan}, expired whole)" if plan else ""))
    upkeep.counts["expired_evidence"] += len(actions)


def _keep_plan(connection: Connection, legs: Sequence[RowMapping], by_key: dict[tuple[str, str], list[Proposal]],
               upkeep: Upkeep, churn: BudgetChurnSettings, grace: Grace, now: datetime,
               expires_at: datetime) -> None:
    """A waiting plan is kept whole when one new plan proposes the same legs, expired whole when
    none of its entities gets a budget proposal; otherwise the gate supersedes it whole."""
    fresh = {leg["id"]: by_key.get((leg["entity_id"], leg["kind"]), []) for leg in legs}
    if not any(fresh.values()):
        _unsupported(connection, legs, grace, upkeep, now, expires_at)
        return
    matches = {leg["id"]: next((p for p in fresh[leg["id"]] if plan_of(p.evidence) is not None
                                and same_change(leg, p, churn)), None) for leg in legs}
    new_plans = {plan_of(p.evidence) for p in matches.values() if p is not None}
    if None in matches.values() or len(new_plans) != 1:
        return
    new_plan = new_plans.pop()
    new_legs = [p for p in upkeep.to_gate if plan_of(p.evidence) == new_plan]
    if len(new_legs) != len(legs):
        return
    for leg in legs:
        match = matches[leg["id"]]
        assert match is not None
        evidence = {**match.evidence, "plan": leg["evidence"]["plan"]}  # the plan as it was asked
        _refresh(connection, leg, replace(match, evidence=evidence), now, expires_at)
    for proposal in new_legs:
        if proposal in upkeep.to_gate:
            upkeep.to_gate.remove(proposal)
    upkeep.counts["already_open"] += len(legs)
