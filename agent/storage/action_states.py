"""The action state machine and the queue's repository functions.

    proposed -> pending_approval -> approved -> executing -> executed | failed
    any open state -> rejected | expired | superseded
    proposed -> reported   (observe level, or dry-run: recorded, never queued or executed)
    proposed -> held_out   (held out by a randomized experiment: recorded, never executed;
                            agent/experiments/assign.py)
    executing -> approved | superseded | rejected   (held, drifted, or stopped by a guardrail)
    executing -> unknown -> executed | approved | failed   (write sent, answer lost: settled by
                                                         reading the platform, agent/execution/settlement.py)

Every transition is checked against this table (an illegal one raises) and written to the audit
trail with who made it, how, and why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Table,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)

from agent.errors import IllegalTransition, StaleTransition
from agent.storage.action_queries import APPLIED_STATES
from agent.storage.audit_trail import record_event
from agent.storage.models import Action
from policies.base import Proposal


@dataclass(frozen=True)
class ExecutedChange:
    """A change already applied to an entity (by the agent), used for cumulative caps and cooldowns."""

    entity_id: str
    kind: str
    change: Mapping[str, Any]
    at: datetime


TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"pending_approval", "approved", "reported", "rejected", "superseded", "held_out"}),
    "pending_approval": frozenset({"approved", "rejected", "expired", "superseded"}),
    "approved": frozenset({"executing", "superseded", "rejected", "expired"}),
    "executing": frozenset({"executed", "failed", "approved", "superseded", "rejected", "unknown"}),
    # sent, outcome not known: only what the platform shows settles it ("failed" = never applied)
    "unknown": frozenset({"executed", "approved", "failed"}),
    "executed": frozenset(),
    "failed": frozenset(),
    "rejected": frozenset(),
    "expired": frozenset(),
    "superseded": frozenset(),
    "reported": frozenset(),
    "held_out": frozenset(),  # terminal: no approval, restart or recovery can execute it
}
STATES: tuple[str, ...] = tuple(TRANSITIONS)
ACTIONS: Table = Action.__table__  # type: ignore[assignment]
HISTORY_WINDOW = timedelta(days=8)  # longer than any cooldown or daily cap looks back
OPEN_STATES: frozenset[str] = frozenset({"proposed", "pending_approval", "approved", "executing", "unknown"})
# counted as applied by cooldowns, daily caps and the flip-flop guard: an unknown outcome may have applied
APPLIED_OR_MAYBE: tuple[str, ...] = APPLIED_STATES  # an unknown outcome counts as applied until settled


def idempotency_key(proposal: Proposal, origin: str) -> str:
    """A stable key for one proposal from one origin (a cycle, an undo): same key, same action."""
    material = json.dumps(
        [proposal.account_id, proposal.entity_id, proposal.kind, proposal.change, origin],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def json_ready(data: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping as it will read back from a JSON column (Decimals and dates become strings)."""
    loaded: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return loaded


def create_action(
    connection: Connection,
    proposal: Proposal,
    *,
    cycle_id: int | None,
    permission: str,
    dry_run: bool,
    now: datetime,
    key_salt: str = "",
) -> int:
    """Record a proposal as a new action in state `proposed`, with its audit event."""
    result = connection.execute(
        insert(Action).values(
            cycle_id=cycle_id,
            account_id=proposal.account_id,
            entity_id=proposal.entity_id,
            entity_level=proposal.entity_level,
            entity_name=proposal.entity_name,
            kind=proposal.kind,
            policy=proposal.policy,
            change=json_ready(proposal.change),
            rationale=proposal.rationale,
            evidence=json_ready(proposal.evidence),
            permission=permission,
            dry_run=dry_run,
            state="proposed",
            decision_reason="",
            idempotency_key=idempotency_key(proposal, f"cycle-{cycle_id}" if cycle_id is not None else key_salt),
            result={},
            created_at=now,
            updated_at=now,
            expires_at=None,
        )
    )
    action_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    record_event(
        connection,
        at=now,
        event="proposal",
        actor=f"policy:{proposal.policy}",
        message=proposal.rationale,
        data={"kind": proposal.kind, "entity_id": proposal.entity_id, "change": dict(proposal.change),
              "evidence": dict(proposal.evidence)},
        cycle_id=cycle_id,
        action_id=action_id,
        account_id=proposal.account_id,
    )
    return action_id


def transition(
    connection: Connection,
    action_id: int,
    to_state: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
    expected: str | None = None,
    data: Mapping[str, Any] | None = None,
    result: Mapping[str, Any] | None = None,
    expires_at: datetime | None = None,
    claimed_by: str | None = None,
) -> None:
    """Move an action to `to_state` if the table allows it, and record who, how and why.

    One conditional UPDATE (on the state it comes from: `expected`, or the only state `to_state` can
    be reached from) and the audit event's INSERT, in the caller's transaction. Two processes racing
    for the same action cannot both move it: the loser's UPDATE matches no row and it gets
    StaleTransition. The state is read first only when the source is ambiguous, and after a miss to
    say why (no such action, stale, or illegal).
    """
    current = expected if expected is not None else _ONLY_SOURCE.get(to_state)
    if current is None or to_state not in TRANSITIONS[current]:
        current = _checked_source(connection, action_id, to_state, expected)
    values: dict[str, Any] = {"state": to_state, "updated_at": now, "decision_reason": reason,
                              "b_id": action_id, "b_from": current}
    if result is not None:
        values["result"] = dict(result)
    if expires_at is not None:
        values["expires_at"] = expires_at
    if claimed_by is not None:
        values["claimed_by"], values["claimed_at"] = claimed_by, now
    account_id = connection.execute(_MOVE, values).scalar_one_or_none()
    if account_id is None:
        _checked_source(connection, action_id, to_state, expected)  # raises what went wrong
        raise StaleTransition(f"action {action_id} changed state concurrently")
    record_event(
        connection,
        at=now,
        event=f"state:{to_state}",
        actor=actor,
        message=reason,
        data={"from": current, "to": to_state, **(data or {})},
        action_id=action_id,
        account_id=account_id,
    )


# the state each target can only be reached from, where there is one (no read needed to know it)
_ONLY_SOURCE: dict[str, str] = {
    target: next(iter(sources)) for target in TRANSITIONS
    if len(sources := [s for s, targets in TRANSITIONS.items() if target in targets]) == 1
}
# built once: the SET clause is the parameters given (besides b_id / b_from), compiled once per set
_MOVE = (update(ACTIONS).where(ACTIONS.c.id == bindparam("b_id"), ACTIONS.c.state == bindparam("b_from"))
         .returning(ACTIONS.c.account_id))
_STATE = select(ACTIONS.c.state).where(ACTIONS.c.id == bindparam("b_id"))


def _checked_source(connection: Connection, action_id: int, to_state: str, expected: str | None) -> str:
    """The action's state read now, if it may move to `to_state`; else the error that says why."""
    current = connection.execute(_STATE, {"b_id": action_id}).scalar_one_or_none()
    if current is None:
        raise KeyError(f"no action with id {action_id}")
    if expected is not None and current != expected:
        raise StaleTransition(f"action {action_id} is {current}, not {expected}")
    if to_state not in TRANSITIONS[current]:
        raise IllegalTransition(f"action {action_id}: {current} -> {to_state} is not allowed")
    return str(current)


def _open_or_decided_since(decided_since: datetime | None) -> ColumnElement[bool]:
    state_filter: ColumnElement[bool] = Action.state.in_(OPEN_STATES)
    if decided_since is not None:
        state_filter = or_(state_filter, and_(Action.state.in_(("reported", "rejected")),
                                              Action.created_at >= decided_since))
    return and_(state_filter, Action.dry_run.is_(False))


def open_actions_for(connection: Connection, account_id: str, entity_id: str, kind: str,
                     decided_since: datetime | None = None) -> Sequence[RowMapping]:
    """Live (not finished) actions of a kind on one entity, newest first; with `decided_since`,
    also those reported or rejected since then (so a finding is not repeated every cycle)."""
    query = (
        select(ACTIONS)
        .where(Action.account_id == account_id, Action.entity_id == entity_id, Action.kind == kind,
               _open_or_decided_since(decided_since))
        .order_by(Action.id.desc())
    )
    return list(connection.execute(query).mappings())


def entities_with_open_actions(connection: Connection, account_id: str, kind: str,
                               decided_since: datetime | None = None) -> set[str]:
    """The account's entities that `open_actions_for` finds an action of `kind` on, in one query."""
    query = select(Action.entity_id).distinct().where(Action.account_id == account_id, Action.kind == kind,
                                                      _open_or_decided_since(decided_since))
    return set(connection.execute(query).scalars())


MAX_ACTION_ID = 2**31 - 1  # the id column is a 32-bit integer in PostgreSQL


def get_action(connection: Connection, action_id: int) -> RowMapping | None:
    """The action, or None if there is none with that id (also for ids no row can have)."""
    if not 0 < action_id <= MAX_ACTION_ID:
        return None
    return connection.execute(select(ACTIONS).where(Action.id == action_id)).mappings().one_or_none()


def list_actions(connection: Connection, state: str | None = None,
                 accounts: Collection[str] | None = None) -> list[RowMapping]:
    query = select(ACTIONS).order_by(Action.id)
    if state is not None:
        query = query.where(Action.state == state)
    if accounts is not None:
        query = query.where(Action.account_id.in_(sorted(accounts)))
    return list(connection.execute(query).mappings())


def action_as_dict(action: RowMapping) -> dict[str, Any]:
    """A JSON-ready view of an action, for `actions list --json` and exports."""
    return {
        "id": action["id"],
        "cycle_id": action["cycle_id"],
        "account_id": action["account_id"],
        "entity_id": action["entity_id"],
        "entity_level": action["entity_level"],
        "entity_name": action["entity_name"],
        "kind": action["kind"],
        "policy": action["policy"],
        "change": action["change"],
        "rationale": action["rationale"],
        "evidence": action["evidence"],
        "permission": action["permission"],
        "dry_run": action["dry_run"],
        "state": action["state"],
        "decision_reason": action["decision_reason"],
        "idempotency_key": action["idempotency_key"],
        "result": action["result"],
        "experiment": (action["result"] or {}).get("experiment") if isinstance(action["result"], dict) else None,
        "claimed_by": action["claimed_by"],
        "created_at": action["created_at"].isoformat() if action["created_at"] else None,
        "updated_at": action["updated_at"].isoformat() if action["updated_at"] else None,
    }


def executed_history(connection: Connection, account_id: str, now: datetime) -> list[ExecutedChange]:
    """Changes the agent executed on the account lately (for cooldowns and cumulative caps), and
    those whose outcome is still unknown: they count as applied until proven otherwise."""
    query = select(ACTIONS).where(
        Action.account_id == account_id, Action.state.in_(APPLIED_OR_MAYBE),
        Action.updated_at >= now - HISTORY_WINDOW,
    )
    return [ExecutedChange(entity_id=a["entity_id"], kind=a["kind"], change=a["change"], at=as_utc(a["updated_at"]))
            for a in connection.execute(query).mappings()]


def as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def expire_stale(connection: Connection, now: datetime) -> int:
    """Pending approvals past their TTL become `expired`: an old recommendation is not acted on."""
    query = select(Action.id).where(Action.state == "pending_approval", Action.expires_at.is_not(None),
                                    Action.expires_at < now)
    expired = 0
    for action_id in list(connection.execute(query).scalars()):
        try:
            transition(connection, action_id, "expired", actor="expiry", now=now, expected="pending_approval",
                       reason="no decision before the approval deadline")
            expired += 1
        except StaleTransition:
            continue
    return expired


def pending_for_account(connection: Connection, account_id: str) -> list[RowMapping]:
    """The account's actions awaiting a decision (dry-run ones never wait), oldest first."""
    query = select(ACTIONS).where(Action.account_id == account_id, Action.state == "pending_approval",
                                  Action.dry_run.is_(False)).order_by(Action.id)
    return list(connection.execute(query).mappings())


def refresh_evidence(connection: Connection, action: RowMapping, evidence: Mapping[str, Any], *, now: datetime,
                     expires_at: datetime, message: str) -> None:
    """A pending action (`action`: its row as read in this transaction) whose proposal still holds: this
    cycle's evidence, a later deadline (a safety net for when no cycle runs), and, when the evidence
    changed, an audit event saying so (hourly cycles on the same day's data would otherwise fill the
    trail). Its change is left as asked; unchanged evidence is not written again."""
    fresh = json_ready(evidence)
    changed = action["evidence"] != fresh
    values: dict[str, Any] = {"evidence": fresh, "expires_at": expires_at} if changed else {"expires_at": expires_at}
    connection.execute(update(Action).where(Action.id == action["id"], Action.state == "pending_approval")
                       .values(**values))
    if not changed:
        return
    record_event(connection, at=now, event="evidence_refreshed", actor="gate", message=message,
                 data={"expires_at": expires_at.isoformat()}, action_id=action["id"], account_id=action["account_id"])
