"""Reconciliation: settle actions a crash left in `executing`, by what the platform shows now.

Applied ones are marked executed, the others go back to `approved`, and where the platform cannot
tell (an additive change on a platform with no way to look it up) the action is marked failed
for a person to check: nothing is ever repeated blindly.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import Engine, RowMapping

from agent import metrics
from agent.account_lock import account_lock
from agent.actions import StaleTransition, transition
from agent.claims import stuck_actions
from agent.clock import Clock
from agent.config import AgentConfig
from agent.db_retry import retry_unit
from agent.executor import ExecutionReport, entity_state_change, live_matches
from connectors.base import Connector, Entity


def _applied(connector: Connector, account_id: str, action: RowMapping, entity: Entity | None) -> bool | None:
    """Whether the platform already shows this action's effect (None: cannot tell).

    State changes are read off the live entity; additive ones (a new ad, a negative list) need
    the platform to say whether it has the object (`applied_keys`), else we cannot tell, and a
    human must look rather than the agent create a duplicate."""
    if entity is not None and entity_state_change(action):
        matched = live_matches(entity, action["change"].get("to", {}))
        if matched is not None:
            return matched
    finder = getattr(connector, "applied_keys", None)
    if finder is None:
        return None
    return action["idempotency_key"] in finder(account_id, [action["idempotency_key"]])


def reconcile(
    engine: Engine, connectors: Mapping[str, Connector], config: AgentConfig, clock: Clock
) -> ExecutionReport:
    """Settle actions a crash left in `executing`, by reading what the platform shows now."""
    report = ExecutionReport()
    with engine.connect() as connection:
        stuck = stuck_actions(connection, clock.now())
    by_account: dict[str, list[RowMapping]] = defaultdict(list)
    for action in stuck:
        by_account[action["account_id"]].append(action)
    for account_id, actions in by_account.items():
        # an account another process is executing right now is its business: its claims are live
        with account_lock(engine, account_id, wait=False) as free:
            if free:
                _reconcile_account(engine, connectors[config.account(account_id).platform], account_id, actions,
                                   clock, report)
    return report


def _reconcile_account(engine: Engine, connector: Connector, account_id: str, actions: list[RowMapping],
                       clock: Clock, report: ExecutionReport) -> None:
    live = {e.entity_id: e for e in connector.entities(account_id, sorted({a["entity_id"] for a in actions}))}
    for action in actions:
        entity = live.get(action["entity_id"])
        applied = _applied(connector, account_id, action, entity)
        try:
            retry_unit(functools.partial(_settle, engine, action, applied, clock, report))
        except StaleTransition:
            continue  # another process settled it first


def _settle(
    engine: Engine, action: RowMapping, applied: bool | None, clock: Clock, report: ExecutionReport
) -> None:
    with engine.begin() as connection:
        if applied:
            transition(
                connection,
                action["id"],
                "executed",
                actor="reconciler",
                now=clock.now(),
                expected="executing",
                reason="found applied on the platform after an interruption",
                result={"reconciled": True},
            )
            report.add("reconciled_executed")
            metrics.STUCK_SETTLED.labels(outcome="executed").inc()
        elif applied is None:
            transition(
                connection,
                action["id"],
                "failed",
                actor="reconciler",
                now=clock.now(),
                expected="executing",
                reason="interrupted, and the platform's state cannot confirm whether it applied: "
                "check it by hand",
                result={"reconciled": True},
            )
            report.add("reconciled_unknown")
            metrics.STUCK_SETTLED.labels(outcome="unknown").inc()
        else:
            transition(
                connection,
                action["id"],
                "approved",
                actor="reconciler",
                now=clock.now(),
                expected="executing",
                reason="interrupted before it applied: back in the queue",
            )
            report.add("reconciled_requeued")
            metrics.STUCK_SETTLED.labels(outcome="requeued").inc()
