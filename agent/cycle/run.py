"""One cycle: pull -> store -> evaluate -> gate -> record.

Each account is handled on its own (agent/cycle/account_turn.py): a failing account is logged, counted
and skipped while the rest of the cycle goes on. Data flows one way; each step reads what the
previous one wrote. What the steps share is one frozen `RunContext` (agent/cycle/run_context.py). How
accounts run (threads by default, or Celery workers) and how approvers are told are the caller's
choice, passed in; agent/bootstrap.py builds both from the config.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AccountConfig, AgentConfig
from agent.customers.privacy import refresh_at_cycle_start
from agent.cycle.account_turn import run_account
from agent.cycle.concurrency import (
    ACCOUNT_WORKERS_PER_SLOT,
    SharedReads,
    for_each_by_platform,
    platform_request_limits,
)
from agent.cycle.run_context import AccountRunner, Notify, Progress, RunContext
from agent.cycle.summary import CycleSummary
from agent.execution.executor import execute_approved
from agent.execution.recovery import recover
from agent.storage import audit_trail, cycle_records
from agent.storage.account_lock import account_lock
from agent.storage.action_states import expire_stale
from agent.storage.claims import active_claim
from agent.storage.db_retry import attempts, retry_unit
from connectors.base import AccountInfoReader, Connector
from connectors.records import AccountInfo

__all__ = ["CycleSummary", "RunContext", "run_accounts_in_threads", "run_cycle"]
log = logging.getLogger(__name__)


def run_cycle(
    engine: Engine,
    config: AgentConfig,
    connectors: Mapping[str, Connector],
    clock: Clock,
    *,
    dry_run: bool | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    run_accounts: AccountRunner | None = None,
    notify: Notify | None = None,
) -> CycleSummary:
    """Run one full cycle over every configured account and return what it did.

    `should_stop` is polled between accounts and before execution: a service asked to shut down
    finishes the step in hand and leaves approved actions for the next start (status
    `interrupted`), so nothing is left half-done. `run_accounts` runs the accounts (by default
    `run_accounts_in_threads`; agent/bootstrap.py gives the Celery one when the config asks for
    it); `notify`, if given, tells approvers about the pending actions once the cycle has executed.
    """
    if run_accounts is None and config.execution.mode == "celery":
        raise ValueError("execution mode celery: pass the workers' runner (agent.bootstrap.account_runner)")
    with active_claim() as runner:  # while it runs, recovery tells this cycle's row from a crashed one
        return _run_cycle(engine, config, connectors, clock, dry_run, progress, should_stop, runner,
                          run_accounts or run_accounts_in_threads, notify)


def _run_cycle(engine: Engine, config: AgentConfig, connectors: Mapping[str, Connector], clock: Clock,
               dry_run: bool | None, progress: Progress | None, should_stop: Callable[[], bool] | None,
               runner: str, run_accounts: AccountRunner, notify: Notify | None) -> CycleSummary:
    dry_run = config.dry_run if dry_run is None else dry_run
    started = time.monotonic()
    for attempt in attempts():  # a database blip must not kill the cycle (agent/storage/db_retry.py)
        with attempt, engine.begin() as connection:
            cycle_id = cycle_records.start_cycle(connection, clock.now(), dry_run, runner=runner)
    for attempt in attempts():  # retention, then CRM segments' members (docs/segments.md, "Privacy")
        with attempt:
            refresh_at_cycle_start(engine, config, clock.now())
    run = RunContext(engine=engine, config=config, connectors=connectors, clock=clock, dry_run=dry_run,
                     cycle_id=cycle_id, say=progress or (lambda _message: None),
                     stopping=should_stop or (lambda: False))
    summary = CycleSummary(cycle_id=cycle_id, dry_run=dry_run)
    with platform_request_limits(config):  # one limit per platform for the whole cycle, shared by all its threads
        interrupted = _pull_and_execute(run, summary, run_accounts, notify)
    status = "interrupted" if interrupted else ("failed" if summary.accounts_failed == summary.accounts
                                                else "degraded" if summary.write_problems else "ok")
    for attempt in attempts():
        with attempt, engine.begin() as connection:
            cycle_records.finish_cycle(connection, cycle_id, clock.now(), status, summary.as_dict())
            audit_trail.record_event(connection, at=clock.now(), event="cycle", actor="agent",
                               message=f"cycle {cycle_id} {status}", data=summary.as_dict(), cycle_id=cycle_id)
    summary.status = status
    summary.seconds = time.monotonic() - started
    log.info("cycle.done", extra={"cycle_id": cycle_id, "status": status, "seconds": round(summary.seconds, 3),
                                  **summary.as_dict()})
    return summary


def _pull_and_execute(run: RunContext, summary: CycleSummary, run_accounts: AccountRunner,
                      notify: Notify | None) -> bool:
    """Reconcile; pull, evaluate, gate and execute every account; then execute what is left (the
    approved actions of accounts whose pull failed, or that Celery workers gated); True if a stop
    request cut it short."""
    engine, config, connectors, clock, say = run.engine, run.config, run.connectors, run.clock, run.say
    if not run.dry_run:
        say("reconciling interrupted actions")
        recovered = retry_unit(lambda: recover(engine, connectors, config, clock))
        summary.execution.update(recovered.outcomes)
        summary.write_problems += recovered.write_problems
        for attempt in attempts():
            with attempt, engine.begin() as connection:
                summary.execution["expired"] += expire_stale(connection, clock.now())
    parts = run_accounts(run)
    for part in parts:
        summary.absorb(part)
    interrupted = len(parts) < len(config.accounts)
    if not run.dry_run and not run.stopping():  # dry-run: no mutating call may reach any connector
        say("executing approved actions")
        step_started = time.monotonic()
        report = execute_approved(engine, connectors, config, clock, skip_accounts=summary.executed_accounts)
        summary.execution.update(report.outcomes)
        summary.write_problems += report.write_problems
        log.info("cycle.execute", extra={"cycle_id": run.cycle_id, "outcomes": dict(report.outcomes),
                                         "seconds": round(time.monotonic() - step_started, 3)})
        say("notifying approvers")
        if notify is not None:
            summary.notifications.update(notify())
    elif not run.dry_run:
        interrupted = True
    return interrupted


def run_accounts_in_threads(run: RunContext) -> list[CycleSummary]:
    """Pull, evaluate and gate every account in threads, a pool per platform whose requests are
    limited one by one to the platform's `max_concurrency_per_platform` (so one slow account never
    holds up the rest; see `for_each_by_platform`). Each account's approved actions are executed
    as soon as it is gated (unless dry-run or stopping): its platform's requests then never wait
    for the slowest account's pull. Accounts not started because of a stop request are left out
    of the result."""
    config, stopping = run.config, run.stopping
    platforms = {account.platform for account in config.accounts}
    with platform_request_limits(config) as limiter, ExitStack() as stack:
        infos = _account_infos(run.connectors, platforms)
        reads = {platform: SharedReads(stack.enter_context(ThreadPoolExecutor(
            max_workers=ACCOUNT_WORKERS_PER_SLOT * limiter.limit(platform), thread_name_prefix=f"read-{platform}")),
            per_account=limiter.limit(platform) // 2) for platform in platforms}

        def one(account: AccountConfig) -> CycleSummary | None:
            if stopping():
                return None
            # one process at a time pulls, gates and executes an account (agent/storage/account_lock.py)
            with account_lock(run.engine, account.id, should_stop=stopping) as held:
                if not held:
                    return None
                return run_account(run, account, infos.get(account.id), reads[account.platform].for_account(),
                                   execute=not run.dry_run)

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
