"""Reconciliation: settle actions a crash left in `executing`, and writes whose outcome is
`unknown`, by what the platform shows now.

Applied ones are marked executed, the others go back to `approved`. Where the platform's state
cannot tell yet, an interrupted action becomes `unknown` (counted as applied by the guardrails)
and is settled by reading the platform again (agent/execution/settlement.py), never by re-sending it and
never by guessing: an action is recorded `failed` only when the platform shows it was not applied.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import Engine, RowMapping

from agent import prometheus as metrics
from agent.audiences.execute import AUDIENCE_KINDS
from agent.audiences.sync import settle_interrupted as settle_interrupted_audience
from agent.clock import Clock
from agent.config import AgentConfig
from agent.errors import StaleTransition
from agent.execution.executor import ExecutionReport
from agent.execution.settlement import Settling, applied_on_platform, platform_view, settle, settling_for
from agent.outcomes.uploads import UPLOAD_KIND
from agent.outcomes.uploads_execute import settle_interrupted
from agent.storage.account_lock import account_lock
from agent.storage.action_states import list_actions, transition
from agent.storage.claims import stuck_actions
from agent.storage.db_retry import retry_unit
from connectors.base import Connector

log = logging.getLogger(__name__)


def reconcile(
    engine: Engine, connectors: Mapping[str, Connector], config: AgentConfig, clock: Clock,
    settling: Settling | None = None,
) -> ExecutionReport:
    """Settle actions a crash left in `executing` and unknown outcomes, by reading the platform now."""
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
    _settle_unknown(engine, connectors, config, clock, settling or settling_for(config.execution), report)
    return report


def _reconcile_account(engine: Engine, connector: Connector, account_id: str, actions: list[RowMapping],
                       clock: Clock, report: ExecutionReport) -> None:
    for upload in [a for a in actions if a["kind"] == UPLOAD_KIND]:  # settled by its ledger
        with contextlib.suppress(StaleTransition):
            settle_interrupted(engine, dict(upload), clock, report.add)
    for audience in [a for a in actions if a["kind"] in AUDIENCE_KINDS]:  # settled by the audience ledger
        with contextlib.suppress(StaleTransition):
            settle_interrupted_audience(engine, dict(audience), clock, report.add)
    actions = [a for a in actions if a["kind"] not in (UPLOAD_KIND, *AUDIENCE_KINDS)]
    if not actions:
        return
    live, tagged = platform_view(connector, account_id, actions)
    for action in actions:
        applied = applied_on_platform(action, live.get(action["entity_id"]), tagged)
        try:
            retry_unit(functools.partial(_settle, engine, action, applied, clock, report))
        except StaleTransition:
            continue  # another process settled it first


def _settle_unknown(engine: Engine, connectors: Mapping[str, Connector], config: AgentConfig, clock: Clock,
                    settling: Settling, report: ExecutionReport) -> None:
    with engine.connect() as connection:
        unknown = [a for a in list_actions(connection, "unknown") if any(
            account.id == a["account_id"] for account in config.accounts)]
    by_account: dict[str, list[RowMapping]] = defaultdict(list)
    for action in unknown:
        by_account[action["account_id"]].append(action)
    for account_id, actions in by_account.items():
        connector = connectors[config.account(account_id).platform]
        try:
            moved = settle(engine, connector, account_id, actions, clock, settling, actor="reconciler")
        except Exception:  # the platform cannot be read now: they stay unknown, asked again next time
            log.exception("settling %d unknown outcome(s) of account %s failed", len(actions), account_id)
            continue
        for state in moved.values():
            report.add(f"settled_{state}")
    with engine.connect() as connection:
        left = [a for a in list_actions(connection, "unknown") if a["account_id"] in by_account]
    if left:
        report.add("unknown", len(left))
        for action in left:
            report.problem(f"action {action['id']} ({action['kind']} {action['entity_id']}, account "
                           f"{action['account_id']}): outcome still unknown")


def _settle(
    engine: Engine, action: RowMapping, applied: bool | None, clock: Clock, report: ExecutionReport
) -> None:
    if applied:
        state, outcome, reason = "executed", "executed", "found applied on the platform after an interruption"
    elif applied is None:
        state, outcome, reason = "unknown", "unknown", (
            "interrupted, and the platform does not show yet whether it applied: outcome unknown "
            "until it does (counted as applied meanwhile)")
    else:
        state, outcome, reason = "approved", "requeued", "interrupted before it applied: back in the queue"
    with engine.begin() as connection:
        transition(connection, action["id"], state, actor="reconciler", now=clock.now(), expected="executing",
                   reason=reason, result={"reconciled": True} if state != "approved" else None)
    report.add(f"reconciled_{outcome}")
    metrics.STUCK_SETTLED.labels(outcome=outcome).inc()
