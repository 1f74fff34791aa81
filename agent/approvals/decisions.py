"""Record a human's decision on a pending action: one code path for every channel.

The CLI, the Slack endpoint and the email poller all call `decide_action`; what differs is only
how they identify the approver and the channel. The decision is a conditional state transition,
so a replayed or duplicate answer (a Slack retry, a second email reply) cannot approve twice: the
second one finds the action already decided and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine

from agent.errors import IllegalTransition, StaleTransition
from agent.storage.action_states import as_utc, get_action, transition

Verdict = Literal["approve", "reject"]


@dataclass(frozen=True)
class DecisionOutcome:
    """What happened to a human's answer. `ok` is False when nothing changed (and `message` says why)."""

    ok: bool
    action_id: int
    state: str
    message: str


def target_of(verdict: Verdict) -> str:
    """The state a verdict moves an action to, which is also its past tense."""
    return "approved" if verdict == "approve" else "rejected"


def decide_action(
    engine: Engine,
    action_id: int,
    verdict: Verdict,
    *,
    approver: str,
    channel: str,
    now: datetime,
    reason: str = "",
    reference: Mapping[str, Any] | None = None,
) -> DecisionOutcome:
    """Approve or reject a pending action. Expired, unknown or already decided actions are
    reported back unchanged. `reference` (a Slack payload id, an email Message-ID) is kept in the
    audit trail with the channel and the approver."""
    with engine.begin() as connection:
        action = get_action(connection, action_id)
        if action is None:
            return DecisionOutcome(False, action_id, "unknown", f"no action with id {action_id}")
        state = str(action["state"])
        expires = action["expires_at"]
        if state == "pending_approval" and expires is not None and as_utc(expires) < now:
            transition(connection, action_id, "expired", actor="expiry", now=now, expected="pending_approval",
                       reason="no decision before the approval deadline")
            return DecisionOutcome(False, action_id, "expired",
                                   f"action {action_id} expired at {as_utc(expires):%Y-%m-%d %H:%M} UTC; "
                                   "nothing was changed")
        allowed = ("pending_approval",) if verdict == "approve" else ("pending_approval", "approved")
        if state not in allowed:
            return DecisionOutcome(False, action_id, state, f"action {action_id} is already {state}; "
                                   f"only {' or '.join(allowed)} actions can be {target_of(verdict)}")
        target = target_of(verdict)
        text = reason or f"{target} by {approver} via {channel}"
        try:
            transition(connection, action_id, target, actor=f"{channel}:{approver}", now=now, expected=state,
                       reason=text, data={"channel": channel, "approver": approver,
                                          "reference": dict(reference or {})})
        except (StaleTransition, IllegalTransition):
            return DecisionOutcome(False, action_id, state, f"action {action_id} was decided by someone else first")
    return DecisionOutcome(True, action_id, target, text)
