"""Exactly-once execution of approved actions.

For each account: claim the approved actions (a conditional UPDATE, so a second process loses
the race instead of repeating the work), read the live entities once, compare each with the
proposal's `from` (a human may have changed it since: then the action is superseded, never
overwritten), re-check the guardrails, apply the survivors in one batch, record the platform's
answers.

A crash can leave actions in `executing`: agent/reconcile.py settles them from the live state on
start-up, and nothing is repeated blindly. If `apply` itself raises (a timeout, say), the platform may or may not have applied the batch, so
those actions stay `executing` for reconciliation rather than being guessed at.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, RowMapping

from agent import store
from agent.account_lock import account_lock
from agent.actions import StaleTransition, executed_history, list_actions, transition
from agent.budget_plans import keep_plans_whole
from agent.claims import active_claim, lease_heartbeat
from agent.clock import Clock
from agent.concurrency import for_each_by_platform, platform_request_limits
from agent.config import AgentConfig
from agent.db_retry import attempts, transition_retrying
from agent.effects import applied_outside
from agent.guardrails import STATE_KINDS, ExecutedChange, GuardrailContext, check
from agent.permission_recheck import still_permitted
from connectors.base import MUTATION_KINDS, Connector, Entity, Mutation

log = logging.getLogger(__name__)
STATE_FIELDS = ("status", "daily_budget")


@dataclass
class ExecutionReport:
    """Counts by outcome: executed, failed, superseded, rejected, held, reconciled, ..."""

    outcomes: Counter[str] = field(default_factory=Counter)
    mutating_calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: str, count: int = 1) -> None:
        with self._lock:  # accounts execute in parallel threads
            self.outcomes[outcome] += count

    def count_mutating_call(self) -> None:
        with self._lock:
            self.mutating_calls += 1


def mutation_for(action: RowMapping) -> Mutation:
    """The platform call an action stands for."""
    target: Mapping[str, Any] = action["change"].get("to", {})
    params: dict[str, Any]
    if action["kind"] in ("pause", "enable"):
        params = {}
    elif action["kind"] == "set_budget":
        params = {"daily_budget": str(target["daily_budget"])}
    elif action["kind"] == "exclude_audience":
        params = {"audience_id": target["excluded_audience_id"]}
    else:
        params = dict(target)
    return Mutation(
        kind=action["kind"],
        account_id=action["account_id"],
        entity_id=action["entity_id"],
        params=params,
        idempotency_key=action["idempotency_key"],
    )


def _same(live: Any, expected: Any) -> bool:
    if isinstance(live, Decimal) or isinstance(expected, Decimal):
        try:
            return Decimal(str(live)) == Decimal(str(expected))
        except ArithmeticError:
            return False
    return bool(live == expected)


def live_matches(entity: Entity, state: Mapping[str, Any]) -> bool | None:
    """Whether the live entity is in `state` (a change's `from` or `to`); None if not comparable."""
    fields = [f for f in STATE_FIELDS if f in state]
    if not fields:
        return None
    values = {"status": entity.status, "daily_budget": entity.daily_budget}
    return all(_same(values[f], state[f] if f == "status" else Decimal(str(state[f]))) for f in fields)


def entity_state_change(action: RowMapping) -> bool:
    """True for changes of the entity's own status or budget, which its live state shows. The `to`
    of an additive change (a new ad's `status: PAUSED`) describes something else, not the entity."""
    return action["kind"] in STATE_KINDS


def execute_approved(
    engine: Engine,
    connectors: Mapping[str, Connector],
    config: AgentConfig,
    clock: Clock,
    *,
    action_ids: Sequence[int] | None = None,
    accounts: Collection[str] | None = None,
    skip_accounts: Collection[str] = (),
    worker: str = "executor",
) -> ExecutionReport:
    """Execute every approved action (or just `action_ids`, or those of `accounts`, leaving out
    `skip_accounts`), at most once each."""
    report = ExecutionReport()
    for attempt in attempts():  # database work only: retried through a blip (agent/db_retry.py)
        with attempt, engine.connect() as connection:
            approved = [
                a
                for a in list_actions(connection, "approved", accounts=accounts)
                if not a["dry_run"] and (action_ids is None or a["id"] in action_ids)
                and a["account_id"] not in skip_accounts
            ]
            kill_switch = config.kill_switch or store.flag_enabled(connection, store.KILL_SWITCH)
    if kill_switch:
        report.outcomes["held"] += len(approved)
        return report
    by_account: dict[str, list[RowMapping]] = defaultdict(list)
    for action in approved:
        by_account[action["account_id"]].append(action)
    _for_each_account(config, by_account, lambda account_id, actions: _execute_account(
        engine, connectors, config, clock, account_id, actions, worker, report))
    return report


def _for_each_account(config: AgentConfig, by_account: Mapping[str, Sequence[RowMapping]],
                      work: Callable[[str, Sequence[RowMapping]], None]) -> None:
    """Run `work` for each account, the platforms' accounts in parallel (`for_each_by_platform`)."""
    with platform_request_limits(config) as limiter:
        if len(by_account) <= 1:
            for account_id, actions in by_account.items():
                work(account_id, actions)
            return
        for_each_by_platform(list(by_account), lambda account_id: config.account(account_id).platform,
                             lambda account_id: work(account_id, by_account[account_id]), limiter, name="execute")


def _claim(
    engine: Engine, actions: Sequence[RowMapping], worker: str, claim_id: str, clock: Clock
) -> list[RowMapping]:
    claimed = []
    for action in actions:
        try:
            for attempt in attempts():
                with attempt, engine.begin() as connection:
                    transition(
                        connection,
                        action["id"],
                        "executing",
                        actor=worker,
                        now=clock.now(),
                        expected="approved",
                        reason="claimed for execution",
                        claimed_by=claim_id,
                        data={"claim": claim_id},
                    )
            claimed.append(action)
        except StaleTransition:
            continue  # another process claimed it first
    return claimed


def _execute_account(
    engine: Engine,
    connectors: Mapping[str, Connector],
    config: AgentConfig,
    clock: Clock,
    account_id: str,
    actions: Sequence[RowMapping],
    worker: str,
    report: ExecutionReport,
) -> None:
    account = config.account(account_id)
    connector = connectors[account.platform]
    settings = config.guardrail_settings(account)
    with account_lock(engine, account_id), active_claim(lease_heartbeat(engine, clock)) as claim_id:
        claimed = _claim(engine, actions, worker, claim_id, clock)
        claimed = still_permitted(engine, config, account, claimed, worker=worker, now=clock.now(), count=report.add)
        if claimed:
            _execute_claimed(engine, connector, settings, account, clock, claimed, worker, report)


def _execute_claimed(
    engine: Engine,
    connector: Connector,
    settings: Any,
    account: Any,
    clock: Clock,
    claimed: Sequence[RowMapping],
    worker: str,
    report: ExecutionReport,
) -> None:
    account_id = account.id
    live = {e.entity_id: e for e in connector.entities(account_id, sorted({a["entity_id"] for a in claimed}))}
    for attempt in attempts():
        with attempt, engine.connect() as connection:
            history = executed_history(connection, account_id, clock.now())
            stored = store.load_entities(connection, account_id)
    ready: list[RowMapping] = []
    for action in claimed:
        outcome, reason = _precheck(
            action,
            live.get(action["entity_id"]),
            settings,
            history,
            stored | live,
            account.protected_entities,
            account.timezone,
            clock,
        )
        if outcome == "ready":
            ready.append(action)
            history.append(ExecutedChange(action["entity_id"], action["kind"], action["change"], clock.now()))
            # later actions in this batch must see this one's effect: a second change to the same
            # entity computed from the old state is drift, not a change to stack on top
            if action["entity_id"] in live and entity_state_change(action):
                live[action["entity_id"]] = _with_state(
                    live[action["entity_id"]], action["change"].get("to", {})
                )
            continue
        transition_retrying(
            engine,
            action["id"],
            outcome,
            actor=worker,
            now=clock.now(),
            expected="executing",
            reason=reason,
        )
        report.add("held" if outcome == "approved" else outcome)
    ready = keep_plans_whole(engine, ready, clock, worker, report.add)
    if not ready:
        return
    mutations = [mutation_for(a) for a in ready]
    report.count_mutating_call()
    try:
        results = connector.apply(account_id, mutations)
    except Exception:
        log.exception(
            "apply failed for account %s; %d actions left for reconciliation", account_id, len(ready)
        )
        report.add("interrupted", len(ready))
        return
    for action, result in zip(ready, results, strict=True):
        state = "executed" if result.ok else "failed"
        # recording the platform's answer is retried alone: the write itself is never repeated
        transition_retrying(
            engine,
            action["id"],
            state,
            actor=worker,
            now=clock.now(),
            expected="executing",
            reason=result.error or "applied",
            result={"ok": result.ok, "platform_ref": result.platform_ref, "error": result.error},
        )
        report.add(state)


def _with_state(entity: Entity, state: Mapping[str, Any]) -> Entity:
    """The entity as it will be once `state` (a change's `to`) is applied."""
    updates: dict[str, Any] = {}
    if "status" in state:
        updates["status"] = state["status"]
    if "daily_budget" in state:
        updates["daily_budget"] = Decimal(str(state["daily_budget"]))
    return replace(entity, **updates)


def _precheck(
    action: RowMapping,
    entity: Entity | None,
    settings: Any,
    history: list[ExecutedChange],
    entities: Mapping[str, Entity],
    protected: Sequence[str],
    timezone: str,
    clock: Clock,
) -> tuple[str, str]:
    """Drift check and guardrails against the live entity: ('ready', '') or (next state, reason)."""
    if action["kind"] not in MUTATION_KINDS:
        return "failed", f"{action['kind']} is not something a platform can execute"
    if entity is None or entity.status == "REMOVED":
        return "failed", f"{action['entity_id']} no longer exists on the platform"
    before = live_matches(entity, action["change"].get("from", {})) if entity_state_change(action) else None
    if before is False:
        if live_matches(entity, action["change"].get("to", {})):
            return "superseded", "the entity is already in the proposed state (changed outside the agent)"
        return "superseded", (
            f"drift: live state status={entity.status} budget={entity.daily_budget} differs from "
            f"the proposal's {dict(action['change'].get('from', {}))}; not overwritten"
        )
    outside = applied_outside(action, entity)
    if outside:
        return "superseded", outside
    ctx = GuardrailContext(
        now=clock.now(), timezone=timezone, entities=entities, history=history, protected=frozenset(protected)
    )
    violations = check(
        kind=action["kind"],
        entity_id=action["entity_id"],
        change=action["change"],
        evidence=action["evidence"],
        policy=action["policy"],
        settings=settings,
        ctx=ctx,
    )
    blocking = [v for v in violations if v.severity == "block"]
    if blocking:
        return "rejected", "guardrail at execution: " + "; ".join(v.message for v in blocking)
    holding = [v for v in violations if v.severity == "hold"]
    if holding:
        return "approved", "held: " + "; ".join(v.message for v in holding)
    return "ready", ""
