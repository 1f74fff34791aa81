"""One cycle: pull -> store -> evaluate -> gate -> record.

Each account is handled on its own: a failing account is logged, counted and skipped while the
rest of the cycle goes on. Data flows one way; each step reads what the previous one wrote.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from agent import store
from agent.account_lock import account_lock
from agent.actions import (
    create_action,
    expire_stale,
    json_ready,
    open_actions_for,
    transition,
)
from agent.approvals.notify import notify_pending
from agent.budget_plans import gate_plan, split_plans, yield_to_plans
from agent.claims import active_claim
from agent.clock import Clock, local_today
from agent.concurrency import (
    ACCOUNT_WORKERS_PER_SLOT,
    OneAfterAnother,
    ReadPool,
    SharedReads,
    for_each_by_platform,
    platform_request_limits,
)
from agent.config import AccountConfig, AgentConfig
from agent.copywriter import draft_new_ads, make_drafter
from agent.db_retry import attempts, retry_unit
from agent.effects import still_to_add
from agent.executor import execute_approved
from agent.gate import KIND_PRIORITY as STATE_SETTING_KINDS
from agent.gate import context_for, decide, resolve_conflicts
from agent.optional_reads import OptionalReads
from agent.recovery import recover
from agent.snapshots import load_snapshot
from connectors.base import AccountInfo, AccountInfoReader, Connector, ConnectorError, Entity
from connectors.registry import ConnectorContext, create_connector
from policies import evaluate
from policies.base import Proposal, Snapshot

log = logging.getLogger(__name__)
T = TypeVar("T")
REACH_ESTIMATE_MAX_AGE_DAYS = 7
Progress = Callable[[str], None]


@dataclass
class CycleSummary:
    """What one cycle did, for the CLI's summary and the `cycles` table."""

    cycle_id: int
    dry_run: bool
    accounts: int = 0
    accounts_failed: int = 0
    ad_sets: int = 0
    metric_rows_upserted: int = 0
    search_term_rows_upserted: int = 0
    proposals_by_kind: Counter[str] = field(default_factory=Counter)
    actions_by_state: Counter[str] = field(default_factory=Counter)
    execution: Counter[str] = field(default_factory=Counter)
    notifications: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    # writes that failed or whose outcome is unknown: the cycle is `degraded`, not `ok`
    write_problems: list[str] = field(default_factory=list)
    status: str = "running"
    seconds: float = 0.0
    # accounts whose approved actions were executed right after their gating (not again at the end)
    executed_accounts: set[str] = field(default_factory=set)

    def absorb(self, part: CycleSummary) -> None:
        """Add one account's part (run in a thread or on a worker) to the cycle's totals."""
        self.accounts += part.accounts
        self.accounts_failed += part.accounts_failed
        self.ad_sets += part.ad_sets
        self.metric_rows_upserted += part.metric_rows_upserted
        self.search_term_rows_upserted += part.search_term_rows_upserted
        self.proposals_by_kind.update(part.proposals_by_kind)
        self.actions_by_state.update(part.actions_by_state)
        self.execution.update(part.execution)
        self.errors += part.errors
        self.write_problems += part.write_problems
        self.executed_accounts |= part.executed_accounts

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CycleSummary:
        return cls(
            cycle_id=int(data["cycle_id"]), dry_run=bool(data["dry_run"]), accounts=int(data["accounts"]),
            accounts_failed=int(data["accounts_failed"]), ad_sets=int(data["ad_sets"]),
            metric_rows_upserted=int(data["metric_rows_upserted"]),
            search_term_rows_upserted=int(data["search_term_rows_upserted"]),
            proposals_by_kind=Counter(data["proposals_by_kind"]), actions_by_state=Counter(data["actions_by_state"]),
            errors=list(data["errors"]), write_problems=list(data.get("write_problems", [])),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle_id": self.cycle_id,
            "dry_run": self.dry_run,
            "accounts": self.accounts,
            "accounts_failed": self.accounts_failed,
            "ad_sets": self.ad_sets,
            "metric_rows_upserted": self.metric_rows_upserted,
            "search_term_rows_upserted": self.search_term_rows_upserted,
            "proposals_by_kind": dict(self.proposals_by_kind),
            "actions_by_state": dict(self.actions_by_state),
            "execution": dict(self.execution),
            "notifications": dict(self.notifications),
            "errors": list(self.errors),
            "write_problems": list(self.write_problems),
        }


def account_as_mapping(account: AccountConfig) -> dict[str, Any]:
    """The plain view of an account a connector plugin receives (secrets resolved to strings)."""
    data = account.model_dump(exclude={"credentials", "policies", "permissions"})
    data["credentials"] = {key: value.get_secret_value() for key, value in account.credentials.items()}
    return data


def build_connectors(config: AgentConfig, clock: Clock, engine: Engine | None = None) -> dict[str, Connector]:
    """One connector per platform named in the config, found through the entry-point registry."""
    by_platform: dict[str, list[AccountConfig]] = {}
    for account in config.accounts:
        by_platform.setdefault(account.platform, []).append(account)
    connectors: dict[str, Connector] = {}
    for platform, accounts in by_platform.items():
        settings = config.simulator.model_dump() if platform == "simulator" else {}
        context = ConnectorContext(
            platform=platform,
            accounts=[account_as_mapping(a) for a in accounts],
            settings=settings,
            database_url=config.database_url.get_secret_value(),
            now=clock.now,
            options={"engine": engine} if engine is not None else {},
        )
        connectors[platform] = create_connector(context)
    return connectors


def pull_window(latest_stored: date | None, today: date, lookback_days: int, initial_days: int) -> tuple[date, date]:
    """Days to (re-)pull: everything missing, and at least the look-back window that platforms restate."""
    end = today - timedelta(days=1)
    if latest_stored is None:
        return today - timedelta(days=initial_days), end
    return min(latest_stored + timedelta(days=1), today - timedelta(days=lookback_days)), end


def _pull_account(engine: Engine, connector: Connector, account: AccountConfig, config: AgentConfig,
                  today: date, clock: Clock, summary: CycleSummary, info: AccountInfo | None,
                  reads: ReadPool | None = None) -> None:
    """Read everything from the platform first, then write it in one short transaction (SQLite
    allows one writer at a time, and a platform call must never hold a database lock). Reads that
    do not depend on each other go to `reads` together."""
    pool = reads or OneAfterAnother()
    with engine.connect() as connection:
        latest = store.latest_metric_day(connection, account.id)
        known_reach = store.load_reach_estimates(connection, account.id,
                                                 fresh_since=today - timedelta(days=REACH_ESTIMATE_MAX_AGE_DAYS))
    start, end = pull_window(latest, today, config.lookback_days, config.initial_history_days)
    if info is None and isinstance(connector, AccountInfoReader):
        info = connector.account_info(account.id)
    if info is None:
        info = next((a for a in connector.accounts() if a.account_id == account.id), None)
    if info is None:
        raise ConnectorError(f"account {account.id}: not visible to the {account.platform} connector")
    # listed in the read's own thread: a connector returning a lazy iterable reads while iterated
    entities_read = pool.submit(lambda: list(connector.entities(account.id)))
    metrics_read = pool.submit(lambda: list(connector.daily_metrics(account.id, start, end)))
    search_terms_read = pool.submit(lambda: list(connector.search_terms(account.id, start, end)))
    audiences_read = pool.submit(lambda: list(connector.audiences(account.id)))
    rest: list[Future[Any]] = [metrics_read, search_terms_read, audiences_read]
    optional = OptionalReads(account.id, account.platform)  # enrichments: a failure is noted, the pull goes on
    try:
        entities = entities_read.result()
        reach = _reach_estimates(connector, account.id, entities, known_reach, pool, optional)
    finally:  # nothing of this account's is left running once it has failed or finished
        wait(rest)
    metrics = metrics_read.result()
    search_terms = optional.result("search terms", search_terms_read) or []
    audiences = optional.result("audiences", audiences_read)
    now = clock.now()
    with engine.begin() as connection:
        store.upsert_account(connection, info, now)
        store.upsert_entities(connection, entities, now)
        summary.ad_sets += sum(1 for e in entities if e.level == "ad_set")
        summary.metric_rows_upserted += store.upsert_metrics(connection, metrics, now)
        summary.search_term_rows_upserted += store.upsert_search_terms(connection, search_terms, now)
        store.record_conversion_revisions(connection, account.id, pulled_on=today)
        if audiences is not None:  # unread: the audiences stored before are kept
            store.upsert_audiences(connection, audiences, now)
        store.upsert_reach_estimates(connection, account.id, reach, today)
        optional.record(connection, now, summary.cycle_id)


def _reach_estimates(connector: Connector, account_id: str, entities: Sequence[Entity],
                     known: Mapping[frozenset[str], int], reads: ReadPool,
                     optional: OptionalReads) -> dict[frozenset[str], int]:
    """New reach estimates: each targeted audience and each pair targeted by different active ad sets.

    No platform API returns overlap; reach(A) + reach(B) - reach(A or B) estimates it. Only pairs
    that actually compete are asked for, and estimates younger than a week are reused: audience
    sizes move slowly, and each estimate is a request against the platform's rate limits. An
    estimate the platform cannot give (None) or that fails is left out, noted in `optional`.
    """
    targeted = [
        tuple(str(a) for a in e.attributes.get("audience_ids", ()))
        for e in entities
        if e.level == "ad_set" and e.status == "ACTIVE"
    ]
    singles = sorted({a for ids in targeted for a in ids})
    pairs = {
        frozenset((a, b))
        for i, first in enumerate(targeted)
        for second in targeted[i + 1 :]
        for a in first
        for b in second
        if a != b
    }
    keys = [frozenset((a,)) for a in singles] + sorted(pairs, key=sorted)
    estimates = {key: reads.submit(functools.partial(connector.estimate_reach, account_id, sorted(key)))
                 for key in keys if key not in known}
    wait(estimates.values())
    found = {key: optional.result("reach estimates", estimate) for key, estimate in estimates.items()}
    return {key: size for key, size in found.items() if size is not None}


def _evaluate_and_gate(engine: Engine, account: AccountConfig, config: AgentConfig, today: date,
                       clock: Clock, dry_run: bool, summary: CycleSummary) -> None:
    snapshot = load_snapshot(engine, account, today, clock)
    proposals = evaluate(snapshot, config.policy_settings(account))
    guardrails = config.guardrail_settings(account)
    now = clock.now()
    proposals += _draft_copy(engine, snapshot, proposals, account, config, now - timedelta(
        hours=guardrails.approval_ttl_hours), summary)
    winners, losers = resolve_conflicts(proposals)
    winners, plans = split_plans(winners)
    with engine.begin() as connection:
        ctx = context_for(connection, account, config, now, snapshot.entities)
        for proposal, reason in losers:
            summary.proposals_by_kind[proposal.kind] += 1
            action_id = create_action(connection, proposal, cycle_id=summary.cycle_id, permission="-",
                                      dry_run=dry_run, now=now)
            transition(connection, action_id, "superseded", actor="gate", reason=reason, now=now)
            summary.actions_by_state["superseded"] += 1
        for found in winners:
            summary.proposals_by_kind[found.kind] += 1
            kept = _still_to_add(connection, found, snapshot, summary, now)
            if kept is None:
                continue
            proposal = kept
            if not dry_run and _already_open(connection, proposal, summary.cycle_id, now,
                                             now - timedelta(hours=guardrails.approval_ttl_hours)):
                summary.actions_by_state["already_open"] += 1
                continue
            decision = decide(proposal, account, config, dry_run=dry_run, settings=guardrails, ctx=ctx)
            if decision.state == "rejected" and set(decision.rules) == {"cooldown"}:
                store.record_event(connection, at=now, event="proposal_skipped", actor="gate",
                                   message=f"{proposal.kind} on {proposal.entity_id}: {decision.reason}",
                                   cycle_id=summary.cycle_id, account_id=account.id)
                summary.actions_by_state["cooling_down"] += 1
                continue
            action_id = create_action(connection, proposal, cycle_id=summary.cycle_id,
                                      permission=decision.permission, dry_run=dry_run, now=now)
            expires = now + timedelta(hours=guardrails.approval_ttl_hours)
            transition(connection, action_id, decision.state, actor="gate", reason=decision.reason, now=now,
                       data={"permission": decision.permission, "dry_run": dry_run},
                       expires_at=expires if decision.state == "pending_approval" else None)
            summary.actions_by_state[decision.state] += 1
            if decision.state == "approved":
                ctx = replace(ctx, automatic_actions_this_cycle=ctx.automatic_actions_this_cycle + 1)
        for plan_id, legs in plans.items():  # each plan's legs together (agent/budget_plans.py)
            summary.proposals_by_kind["set_budget"] += len(legs)
            ctx = gate_plan(connection, plan_id, legs, lambda leg, leg_ctx: decide(
                leg, account, config, dry_run=dry_run, settings=guardrails, ctx=leg_ctx), ctx,
                cycle_id=summary.cycle_id, dry_run=dry_run, now=now,
                recent_since=now - timedelta(hours=guardrails.approval_ttl_hours),
                approval_ttl=timedelta(hours=guardrails.approval_ttl_hours), counts=summary.actions_by_state)


def _still_to_add(connection: Connection, proposal: Proposal, snapshot: Snapshot, summary: CycleSummary,
                  now: datetime) -> Proposal | None:
    """An additive proposal without what is already applied, in flight or queued (agent/effects.py);
    None, with an audit event, when nothing is left to add."""
    remaining, left_out = still_to_add(connection, proposal, snapshot.entities, now)
    if remaining is None or left_out:
        what = "everything it adds is" if remaining is None else f"{left_out} of its additions are"
        store.record_event(connection, at=now, event="proposal_skipped" if remaining is None else "proposal_trimmed",
                           actor="gate", message=f"{proposal.kind} on {proposal.entity_id}: {what} already "
                                                 "applied, in flight or queued",
                           cycle_id=summary.cycle_id, account_id=proposal.account_id)
    if remaining is None:
        summary.actions_by_state["already_open"] += 1
    return remaining


def _draft_copy(engine: Engine, snapshot: Snapshot, proposals: Sequence[Proposal], account: AccountConfig,
                config: AgentConfig, recent_since: datetime, summary: CycleSummary) -> list[Proposal]:
    """New ad copy for fatigued or low-CTR ad sets, skipping ad sets whose earlier drafts still
    await a decision (a new draft every hour would only fill the queue)."""
    settings = config.copywriter_settings(account)
    if not settings.enabled:
        return []
    with engine.connect() as connection:
        busy = {e.entity_id for e in snapshot.entities.values() if e.level == "ad_set"
                and open_actions_for(connection, account.id, e.entity_id, "new_ad", decided_since=recent_since)}
    report = draft_new_ads(snapshot, [p for p in proposals if p.kind == "refresh_creative"], settings,
                           make_drafter(settings), skip_ad_sets=busy)
    summary.errors += [f"{account.id}: copywriter: {error}" for error in report.errors]
    if report.rejected:
        summary.proposals_by_kind["new_ad_rejected_drafts"] += report.rejected
    return list(report.proposals)


def _already_open(connection: Connection, proposal: Proposal, cycle_id: int, now: datetime,
                  recent_since: datetime) -> bool:
    """True if the same change awaits a decision, or was reported or rejected recently (a person
    who said no is not asked again every hour); an open action setting the same entity's status or
    budget differently is superseded by this newer proposal (with the rest of its budget plan, if
    it is a leg of one that has not started; one that has started runs first)."""
    waits = yield_to_plans(connection, proposal, cycle_id, now)
    if waits:
        store.record_event(connection, at=now, event="proposal_skipped", actor="gate",
                           message=f"{proposal.kind} on {proposal.entity_id} waits: {waits}",
                           cycle_id=cycle_id, account_id=proposal.account_id)
        return True
    for existing in open_actions_for(connection, proposal.account_id, proposal.entity_id, proposal.kind,
                                     decided_since=recent_since):
        if existing["change"] == json_ready(proposal.change) or existing["state"] in ("executing", "unknown"):
            store.record_event(connection, at=now, event="proposal_skipped", actor="gate",
                               message=f"{proposal.kind} on {proposal.entity_id} is already {existing['state']}"
                                       f" (action {existing['id']})",
                               cycle_id=cycle_id, account_id=proposal.account_id)
            return True
        # a state-setting change (status, budget) replaces an older one; additive changes (an
        # exclusion, a negative list, a new ad) with different content stand side by side
        if existing["state"] not in ("reported", "rejected") and proposal.kind in STATE_SETTING_KINDS:
            transition(connection, existing["id"], "superseded", actor="gate", now=now,
                       reason=f"superseded by a newer proposal in cycle {cycle_id}")
    return False


def run_cycle(
    engine: Engine,
    config: AgentConfig,
    connectors: Mapping[str, Connector],
    clock: Clock,
    *,
    dry_run: bool | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    config_path: Path | None = None,
) -> CycleSummary:
    """Run one full cycle over every configured account and return what it did.

    `should_stop` is polled between accounts and before execution: a service asked to shut down
    finishes the step in hand and leaves approved actions for the next start (status
    `interrupted`), so nothing is left half-done.
    """
    with active_claim() as runner:  # while it runs, recovery tells this cycle's row from a crashed one
        return _run_cycle(engine, config, connectors, clock, dry_run, progress, should_stop, config_path, runner)


def _run_cycle(engine: Engine, config: AgentConfig, connectors: Mapping[str, Connector], clock: Clock,
               dry_run: bool | None, progress: Progress | None, should_stop: Callable[[], bool] | None,
               config_path: Path | None, runner: str) -> CycleSummary:
    dry_run = config.dry_run if dry_run is None else dry_run
    say = progress or (lambda _message: None)
    stopping = should_stop or (lambda: False)
    started = time.monotonic()
    for attempt in attempts():  # a database blip must not kill the cycle (agent/db_retry.py)
        with attempt, engine.begin() as connection:
            cycle_id = store.start_cycle(connection, clock.now(), dry_run, runner=runner)
    summary = CycleSummary(cycle_id=cycle_id, dry_run=dry_run)
    with platform_request_limits(config):  # one limit per platform for the whole cycle, shared by all its threads
        interrupted = _pull_and_execute(engine, config, connectors, clock, summary, dry_run, say, stopping,
                                        config_path)
    status = "interrupted" if interrupted else ("failed" if summary.accounts_failed == summary.accounts
                                                else "degraded" if summary.write_problems else "ok")
    for attempt in attempts():
        with attempt, engine.begin() as connection:
            store.finish_cycle(connection, cycle_id, clock.now(), status, summary.as_dict())
            store.record_event(connection, at=clock.now(), event="cycle", actor="agent",
                               message=f"cycle {cycle_id} {status}", data=summary.as_dict(), cycle_id=cycle_id)
    summary.status = status
    summary.seconds = time.monotonic() - started
    log.info("cycle.done", extra={"cycle_id": cycle_id, "status": status, "seconds": round(summary.seconds, 3),
                                  **summary.as_dict()})
    return summary


def _pull_and_execute(engine: Engine, config: AgentConfig, connectors: Mapping[str, Connector], clock: Clock,
                      summary: CycleSummary, dry_run: bool, say: Progress, stopping: Callable[[], bool],
                      config_path: Path | None) -> bool:
    """Reconcile; pull, evaluate, gate and execute every account; then execute what is left (the
    approved actions of accounts whose pull failed, or that Celery workers gated); True if a stop
    request cut it short."""
    cycle_id = summary.cycle_id
    if not dry_run:
        say("reconciling interrupted actions")
        recovered = retry_unit(lambda: recover(engine, connectors, config, clock))
        summary.execution.update(recovered.outcomes)
        summary.write_problems += recovered.write_problems
        for attempt in attempts():
            with attempt, engine.begin() as connection:
                summary.execution["expired"] += expire_stale(connection, clock.now())
    parts = run_accounts(engine, connectors, config, clock, dry_run, cycle_id, say, stopping, config_path)
    for part in parts:
        summary.absorb(part)
    interrupted = len(parts) < len(config.accounts)
    if not dry_run and not stopping():  # dry-run: no mutating call may reach any connector
        say("executing approved actions")
        step_started = time.monotonic()
        report = execute_approved(engine, connectors, config, clock, skip_accounts=summary.executed_accounts)
        summary.execution.update(report.outcomes)
        summary.write_problems += report.write_problems
        log.info("cycle.execute", extra={"cycle_id": cycle_id, "outcomes": dict(report.outcomes),
                                         "seconds": round(time.monotonic() - step_started, 3)})
        say("notifying approvers")
        summary.notifications.update(notify_pending(engine, config, clock))
    elif not dry_run:
        interrupted = True
    return interrupted


def run_accounts(engine: Engine, connectors: Mapping[str, Connector], config: AgentConfig, clock: Clock,
                 dry_run: bool, cycle_id: int, say: Progress, stopping: Callable[[], bool],
                 config_path: Path | None) -> list[CycleSummary]:
    """Pull, evaluate and gate every account: in threads, a pool per platform whose requests are
    limited one by one to the platform's `max_concurrency_per_platform` (so one slow account never
    holds up the rest; see `for_each_by_platform`), or on Celery workers. In threads, each account's
    approved actions are executed as soon as it is gated (unless dry-run or stopping): its
    platform's requests then never wait for the slowest account's pull. Accounts not started
    because of a stop request are left out of the result."""
    if config.execution.mode == "celery":
        from agent.celery_app import run_accounts_on_workers

        if config_path is None:
            raise ValueError("execution mode celery needs the config file path for the workers")
        return run_accounts_on_workers(config, config_path, clock, dry_run, cycle_id, stopping)
    platforms = {account.platform for account in config.accounts}
    with platform_request_limits(config) as limiter, ExitStack() as stack:
        infos = _account_infos(connectors, platforms)
        reads = {platform: SharedReads(stack.enter_context(ThreadPoolExecutor(
            max_workers=ACCOUNT_WORKERS_PER_SLOT * limiter.limit(platform), thread_name_prefix=f"read-{platform}")),
            per_account=limiter.limit(platform) // 2) for platform in platforms}

        def one(account: AccountConfig) -> CycleSummary | None:
            if stopping():
                return None
            # one process at a time pulls, gates and executes an account (agent/account_lock.py)
            with account_lock(engine, account.id, should_stop=stopping) as held:
                if not held:
                    return None
                return run_account(engine, connectors, account, config, clock, dry_run, cycle_id, say,
                                   infos.get(account.id), reads[account.platform].for_account(),
                                   execute=not dry_run, stopping=stopping)

        results = for_each_by_platform(config.accounts, lambda account: account.platform, one, limiter,
                                       name="account")
    return [part for part in results if part is not None]


def _account_infos(connectors: Mapping[str, Connector], platforms: set[str]) -> dict[str, AccountInfo]:
    """Every account's info, one `accounts()` read per platform (not per account), the platforms in
    parallel. A connector that reads one account's info on its own (`AccountInfoReader`) is left
    out: each account then asks for its own while it is pulled."""
    readers = sorted(p for p in platforms if not isinstance(connectors[p], AccountInfoReader))

    def read(platform: str) -> list[AccountInfo]:
        try:
            return list(connectors[platform].accounts())
        except Exception:  # each account then asks (and fails, and is reported) on its own
            log.exception("cycle.accounts_unreadable", extra={"platform": platform})
            return []

    with ThreadPoolExecutor(max_workers=max(1, len(readers)), thread_name_prefix="accounts") as pool:
        # each read in a copy of this context, so the cycle's request limits go with it
        futures = [pool.submit(contextvars.copy_context().run, read, platform) for platform in readers]
    return {info.account_id: info for future in futures for info in future.result()}


def run_account(engine: Engine, connectors: Mapping[str, Connector], account: AccountConfig, config: AgentConfig,
                clock: Clock, dry_run: bool, cycle_id: int, say: Progress,
                info: AccountInfo | None = None, reads: ReadPool | None = None, *, execute: bool = False,
                stopping: Callable[[], bool] = lambda: False) -> CycleSummary:
    """Pull, evaluate and gate one account, and with `execute` run its approved actions unless
    `stopping` says no; its part of the cycle's summary. Never raises: a failing account is
    recorded and reported, and the others go on. `reads`: where the account's independent reads
    run (by default one after another, in this thread)."""
    summary = CycleSummary(cycle_id=cycle_id, dry_run=dry_run, accounts=1)
    today = local_today(clock, account.timezone)
    try:
        say(f"{account.id}: pulling from {account.platform}")
        step_started = time.monotonic()
        retry_unit(lambda: _pull_account(engine, connectors[account.platform], account, config, today, clock,
                                         summary, info, reads), restore=summary)  # reads and our database only
        log.info("cycle.pull", extra={"account": account.id, "rows": summary.metric_rows_upserted,
                                      "seconds": round(time.monotonic() - step_started, 3)})
        say(f"{account.id}: evaluating policies")
        step_started = time.monotonic()
        retry_unit(lambda: _evaluate_and_gate(engine, account, config, today, clock, dry_run, summary),
                   restore=summary)
        log.info("cycle.evaluate", extra={"account": account.id,
                                          "proposals": sum(summary.proposals_by_kind.values()),
                                          "seconds": round(time.monotonic() - step_started, 3)})
        if execute and not dry_run and not stopping():
            say(f"{account.id}: executing approved actions")
            step_started = time.monotonic()
            report = execute_approved(engine, connectors, config, clock, accounts=[account.id])
            summary.execution.update(report.outcomes)
            summary.write_problems += report.write_problems
            summary.executed_accounts.add(account.id)
            log.info("cycle.execute", extra={"account": account.id, "outcomes": dict(report.outcomes),
                                             "seconds": round(time.monotonic() - step_started, 3)})
    except Exception as error:  # one bad account must not stop the others
        log.exception("cycle.account_failed", extra={"account": account.id})
        summary.accounts_failed += 1
        summary.errors.append(f"{account.id}: {type(error).__name__}: {error}")
        with engine.begin() as connection:
            store.record_event(
                connection, at=clock.now(), event="account_failed", actor="agent",
                message=f"{type(error).__name__}: {error}", cycle_id=cycle_id, account_id=account.id,
            )
    return summary
