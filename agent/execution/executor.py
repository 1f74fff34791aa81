"""Exactly-once execution of approved actions.

For each account: claim the approved actions (a conditional UPDATE, so a second process loses
the race instead of repeating the work), read the live entities once, compare each with the
proposal's `from` (a human may have changed it since: then the action is superseded, never
overwritten), re-check the guardrails, apply the survivors in one batch, record the platform's
answers.

A crash can leave actions in `executing`: agent/execution/reconcile.py settles them from the live state on
start-up, and nothing is repeated blindly. A write whose answer is lost (a timeout, a reset, a
5xx; or `apply` raising) may or may not have been applied: its actions become `unknown` and are
settled by reading the platform (agent/execution/settlement.py), never re-sent before that.

The kill switch is read again from the database right before every platform write (the connectors
ask the write guard before each request), so nothing is sent once `pause-all-automation` has
returned; actions it stops go back to `approved`, and a write already in flight is reported.
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

from agent.audiences.desired import crm_segment_source
from agent.audiences.execute import AUDIENCE_KINDS, run_audience_work
from agent.clock import Clock
from agent.config import AgentConfig
from agent.cycle.concurrency import for_each_by_platform, platform_request_limits
from agent.decisions.budget_plans import keep_plans_whole
from agent.decisions.effects import applied_outside
from agent.decisions.guardrails import LIVE_STATE_KINDS, ExecutedChange, GuardrailContext, check
from agent.decisions.permission_recheck import still_permitted
from agent.decisions.segment_actions import SEGMENT_KINDS, segment_drift
from agent.errors import StaleTransition
from agent.execution.settlement import Settling, live_matches, settle_soon, settling_for
from agent.outcomes.uploads import UPLOAD_KIND, settings_for
from agent.outcomes.uploads_execute import run_upload_actions
from agent.storage import flags, store
from agent.storage.account_lock import account_lock
from agent.storage.action_states import executed_history, list_actions, transition
from agent.storage.claims import active_claim, lease_heartbeat
from agent.storage.db_retry import attempts, retry_unit, transition_retrying
from connectors.base import Connector
from connectors.errors import WritesStopped
from connectors.records import MUTATION_KINDS, Entity, Mutation, MutationResult
from connectors.retry import guarding_writes

log = logging.getLogger(__name__)


@dataclass
class ExecutionReport:
    """Counts by outcome: executed, failed, superseded, rejected, held, reconciled, ..."""

    outcomes: Counter[str] = field(default_factory=Counter)
    mutating_calls: int = 0
    # writes that failed or whose outcome is still unknown, one line each, for the cycle's status
    write_problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: str, count: int = 1) -> None:
        with self._lock:  # accounts execute in parallel threads
            self.outcomes[outcome] += count

    def problem(self, line: str) -> None:
        with self._lock:
            self.write_problems.append(line)

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
    elif action["kind"] == "remove_audience_exclusion":  # the undo of an exclusion: `from` names the audience
        params = {"audience_id": action["change"]["from"]["excluded_audience_id"]}
    else:
        params = dict(target)
    return Mutation(
        kind=action["kind"],
        account_id=action["account_id"],
        entity_id=action["entity_id"],
        params=params,
        idempotency_key=action["idempotency_key"],
    )


def entity_state_change(action: RowMapping) -> bool:
    """True for changes of the entity's own status, budget or ad rotation, which its live state shows.
    The `to` of an additive change (a new ad's `status: PAUSED`) describes something else, not the entity."""
    return action["kind"] in LIVE_STATE_KINDS


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
    settling: Settling | None = None,
) -> ExecutionReport:
    """Execute every approved action (or just `action_ids`, or those of `accounts`, leaving out
    `skip_accounts`), at most once each. Unknown outcomes are settled per `settling`."""
    report = ExecutionReport()
    for attempt in attempts():  # database work only: retried through a blip (agent/storage/db_retry.py)
        with attempt, engine.connect() as connection:
            approved = [
                a
                for a in list_actions(connection, "approved", accounts=accounts)
                if not a["dry_run"] and (action_ids is None or a["id"] in action_ids)
                and a["account_id"] not in skip_accounts
            ]
            kill_switch = config.kill_switch or flags.flag_enabled(connection, flags.KILL_SWITCH)
    if kill_switch:
        report.outcomes["held"] += len(approved)
        return report
    by_account: dict[str, list[RowMapping]] = defaultdict(list)
    for action in approved:
        by_account[action["account_id"]].append(action)
    _for_each_account(config, by_account, lambda account_id, actions: _execute_account(
        engine, connectors, config, clock, account_id, actions, worker, report,
        settling or settling_for(config.execution)))
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
    settling: Settling,
) -> None:
    account = config.account(account_id)
    connector = connectors[account.platform]
    settings = config.guardrail_settings(account)
    with account_lock(engine, account_id), active_claim(lease_heartbeat(engine, clock)) as claim_id:
        claimed = _claim(engine, actions, worker, claim_id, clock)
        claimed = still_permitted(engine, config, account, claimed, worker=worker, now=clock.now(), count=report.add)
        uploads = [a for a in claimed if a["kind"] == UPLOAD_KIND]  # no entity to read: agent/outcomes/
        claimed = [a for a in claimed if a["kind"] != UPLOAD_KIND]
        if uploads:
            uploader = getattr(connector, "conversion_uploader", None)
            run_upload_actions(engine, account, settings_for(config, account_id), uploader() if uploader else None,
                               uploads, clock, worker, report.add)
        audience_work = [a for a in claimed if a["kind"] in AUDIENCE_KINDS]  # agent/audiences/: no entity to read
        claimed = [a for a in claimed if a["kind"] not in AUDIENCE_KINDS]
        if audience_work:
            run_audience_work(engine, account, connector, crm_segment_source, audience_work, clock, worker,
                              report.add, guard=lambda: _stop_if_killed(engine, config), problem=report.problem)
        if claimed:
            with guarding_writes(lambda: _stop_if_killed(engine, config)):
                unknown = _execute_claimed(engine, connector, settings, account, clock, claimed, worker, report)
            if unknown:
                _settle_now(engine, connector, account_id, unknown, clock, settling, report)


def _execute_claimed(
    engine: Engine,
    connector: Connector,
    settings: Any,
    account: Any,
    clock: Clock,
    claimed: Sequence[RowMapping],
    worker: str,
    report: ExecutionReport,
) -> list[int]:
    """Pre-check, then apply the survivors; the ids of the actions whose outcome is unknown."""
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
        return []
    mutations = [mutation_for(a) for a in ready]
    try:
        _stop_if_killed(engine)
    except WritesStopped:
        results: Sequence[MutationResult] = [MutationResult(m.idempotency_key, ok=False, not_sent=True,
                                                            error="held: the kill switch is on") for m in mutations]
    else:
        report.count_mutating_call()
        try:
            results = connector.apply(account_id, mutations)
        except Exception as error:  # the batch may be partly applied: read the platform, never guess
            log.exception("apply failed for account %s; %d action(s) left with an unknown outcome",
                          account_id, len(ready))
            results = [MutationResult(m.idempotency_key, ok=False, outcome_unknown=True,
                                      error=f"no answer: {type(error).__name__}") for m in mutations]
        if _kill_switch_on(engine) and any(not r.not_sent for r in results):
            sent = sum(1 for r in results if not r.not_sent)
            log.warning("kill switch turned on while %d write(s) of account %s were in flight", sent, account_id)
            report.add("in_flight_at_kill_switch", sent)
    unknown: list[int] = []
    for action, result in zip(ready, results, strict=True):
        state = _state_after(result)
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
        report.add("held" if state == "approved" else state)
        if state == "unknown":
            unknown.append(action["id"])
        elif state == "failed":
            report.problem(f"action {action['id']} ({action['kind']} {action['entity_id']}, account {account_id}) "
                           f"failed: {result.error}")
    return unknown


def _state_after(result: MutationResult) -> str:
    """The action's state for the platform's answer: executed, failed (surely not applied),
    unknown (may have been applied) or approved (not sent: held by the kill switch)."""
    if result.ok:
        return "executed"
    if result.not_sent:
        return "approved"
    return "unknown" if result.outcome_unknown else "failed"


def _kill_switch_on(engine: Engine, config: AgentConfig | None = None) -> bool:
    if config is not None and config.kill_switch:
        return True

    def read_flag() -> bool:
        with engine.connect() as connection:
            return flags.flag_enabled(connection, flags.KILL_SWITCH)
    return retry_unit(read_flag)  # read right before a write: a database blip must not end the batch


def _stop_if_killed(engine: Engine, config: AgentConfig | None = None) -> None:
    """The write guard: re-read the kill switch right before a platform write."""
    if _kill_switch_on(engine, config):
        raise WritesStopped("held: the kill switch is on")


def _settle_now(engine: Engine, connector: Connector, account_id: str, unknown: Sequence[int], clock: Clock,
                settling: Settling, report: ExecutionReport) -> None:
    """Settle the unknown outcomes of this batch by reading the platform a few times; what is left
    stays `unknown` for reconciliation and is listed as a write problem."""
    moved = settle_soon(engine, connector, account_id, unknown, clock, settling)
    for state in moved.values():
        report.add("unknown", -1)
        report.add(f"settled_{state}")
    for action_id in unknown:
        if action_id not in moved:
            report.problem(f"action {action_id} (account {account_id}): outcome unknown; it counts as applied "
                           "until the platform shows otherwise")


def _with_state(entity: Entity, state: Mapping[str, Any]) -> Entity:
    """The entity as it will be once `state` (a change's `to`) is applied."""
    updates: dict[str, Any] = {}
    if "status" in state:
        updates["status"] = state["status"]
    if "daily_budget" in state:
        updates["daily_budget"] = Decimal(str(state["daily_budget"]))
    if "ad_rotation" in state:
        updates["attributes"] = {**entity.attributes, "ad_rotation": state["ad_rotation"]}
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
            f"drift: live state status={entity.status} budget={entity.daily_budget}"
            + (f" ad_rotation={entity.attributes.get('ad_rotation')}" if "ad_rotation" in action["change"].get("from", {}) else "")
            + " differs from "
            f"the proposal's {dict(action['change'].get('from', {}))}; not overwritten"
        )
    outside = applied_outside(action, entity) or (
        segment_drift(action, entity) if action["kind"] in SEGMENT_KINDS else None)
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
