"""What every channel does after a human's answer: execute through the executor, then say what happened.

Approval only moves the action to `approved`; the executor still claims it, re-reads the live
entity (drift check) and re-checks the guardrails, exactly as for the CLI and the cycle. The words
built here are shared by Slack messages and email answers so both tell the same story.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, RowMapping

from agent.clock import Clock
from agent.config import AgentConfig
from agent.execution.executor import execute_approved
from agent.execution.reconcile import reconcile
from agent.storage.action_states import as_utc, get_action
from agent.storage.audit_trail import verdict_events
from connectors.base import Connector

ConnectorsFactory = Callable[[], Mapping[str, Connector]]
ActionRow = Mapping[Any, Any]  # a RowMapping from get_action / list_actions, or a plain dict

STATE_WORDS = {
    "pending_approval": "waiting for approval",
    "approved": "approved, waiting to execute",
    "executing": "executing",
    "unknown": "sent; outcome being checked on the platform",
    "executed": "executed",
    "failed": "failed",
    "rejected": "rejected",
    "expired": "expired without a decision; nothing was changed",
    "superseded": "superseded; nothing was changed",
    "reported": "reported only",
    "held_out": "held out by an experiment; never executed",
    "proposed": "proposed",
}


@dataclass(frozen=True)
class Decision:
    """Who decided an action, how and when (from the audit trail)."""

    verdict: str
    approver: str
    channel: str
    at: datetime


def execute_after_approval(engine: Engine, config: AgentConfig, clock: Clock, action_id: int | Sequence[int],
                           connectors_factory: ConnectorsFactory, worker: str = "approval") -> None:
    """Settle interrupted actions, then execute this one, or these (at most once, drift-checked, guarded).
    `connectors_factory` builds the connectors (agent/bootstrap.py's, or a test's)."""
    connectors = connectors_factory()
    reconcile(engine, connectors, config, clock)
    action_ids = [action_id] if isinstance(action_id, int) else list(action_id)
    execute_approved(engine, connectors, config, clock, action_ids=action_ids, worker=f"{worker}:{os.getpid()}")


def current_action(engine: Engine, action_id: int) -> RowMapping | None:
    with engine.connect() as connection:
        return get_action(connection, action_id)


def decision_of(engine: Engine, action_id: int) -> Decision | None:
    """The human decision recorded for an action, if any."""
    with engine.connect() as connection:
        events = verdict_events(connection, action_id)
    for event, data, at in events:
        if isinstance(data, dict) and data.get("approver"):
            return Decision(verdict=event.split(":", 1)[1], approver=str(data["approver"]),
                            channel=str(data.get("channel", "")), at=as_utc(at))
    return None


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def describe_change(action: ActionRow) -> str:
    """The change in words: `daily_budget: 50.00 -> 60.00`."""
    change = action["change"] or {}
    before: Mapping[str, Any] = change.get("from", {}) or {}
    after: Mapping[str, Any] = change.get("to", {}) or {}
    parts = []
    for key in dict.fromkeys([*before, *after]):
        if key in before and key in after:
            parts.append(f"{key}: {_value(before[key])} -> {_value(after[key])}")
        elif key in after:
            parts.append(f"{key}: {_value(after[key])}")
    return "; ".join(parts) or action["kind"]


def headline(action: ActionRow) -> str:
    """`#12 pause ad_set "Shoes - Retargeting" (as-123) in account shop-meta`."""
    return (f"#{action['id']} {action['kind']} {action['entity_level']} \"{action['entity_name']}\" "
            f"({action['entity_id']}) in account {action['account_id']}")


def outcome_text(action: ActionRow, decision: Decision | None, who: Callable[[Decision], str] | None = None
                 ) -> str:
    """One sentence on where an action stands: who decided, and what execution did."""
    state = str(action["state"])
    words = STATE_WORDS.get(state, state)
    reason = str(action["decision_reason"] or "")
    by = ""
    if decision is not None:
        name = who(decision) if who else decision.approver
        by = f"{decision.verdict.capitalize()} by {name} via {decision.channel} at {decision.at:%Y-%m-%d %H:%M} UTC. "
    if state in ("failed", "superseded") or (state == "approved" and reason.startswith("held")):
        return f"{by}{words.capitalize()}: {reason}"
    if state == "rejected" and decision is not None and decision.verdict == "rejected":
        return f"{by}Reason: {reason}"
    if state == "rejected":
        return f"{by}Rejected: {reason}"
    return f"{by}{words.capitalize()}."
