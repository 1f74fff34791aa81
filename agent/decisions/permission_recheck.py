"""The permission level, checked again right before execution (like the guardrails and the kill switch).

An action approved automatically under `auto` may wait a while before it executes (the next
cycle, a held batch). If the operator lowers the kind's permission meanwhile, the approval no
longer stands: under `observe` nothing executes, under `propose` only what a person approved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine, RowMapping

from agent.config import AccountConfig, AgentConfig
from agent.decisions.gate import effective_permission
from agent.errors import StaleTransition
from agent.storage.audit_trail import approval_data
from agent.storage.db_retry import retry_unit, transition_retrying


def approved_by_a_person(engine: Engine, action_id: int) -> bool:
    """True if a person moved the action from pending_approval to approved (any channel)."""
    def read() -> bool:
        with engine.connect() as connection:
            return any((data or {}).get("from") == "pending_approval" for data in approval_data(connection, action_id))
    return retry_unit(read)


def withdrawn_because(action: RowMapping, permission: str, human: bool) -> str | None:
    """Why the current permission level no longer lets `action` execute, or None if it still may."""
    if permission == "auto" or (permission == "propose" and human):
        return None
    if permission == "observe":
        return (f"permission for {action['kind']} is now observe (report only): the approval no longer "
                "stands and nothing is executed")
    return (f"permission for {action['kind']} is now propose: it was approved automatically, not by a "
            "person; it will be proposed again if still warranted")


def still_permitted(engine: Engine, config: AgentConfig, account: AccountConfig, claimed: Sequence[RowMapping],
                    *, worker: str, now: datetime, count: Callable[[str], None]) -> list[RowMapping]:
    """The claimed actions the current permission levels still allow; the others are rejected
    (with a reason naming the permission) and counted as `rejected`."""
    allowed: list[RowMapping] = []
    for action in claimed:
        permission = effective_permission(str(action["kind"]), account, config)
        human = permission == "propose" and approved_by_a_person(engine, int(action["id"]))
        reason = withdrawn_because(action, permission, human)
        if reason is None:
            allowed.append(action)
            continue
        try:
            transition_retrying(engine, action["id"], "rejected", actor=worker, now=now, expected="executing",
                                reason=reason, data={"permission": permission})
        except StaleTransition:
            continue  # settled by someone else meanwhile; not ours to execute either way
        count("rejected")
    return allowed
