"""The coordinator's side of Celery mode: the Celery app, and sending each account to the workers.

agent/bootstrap.py passes `workers_runner(config_path)` to the cycle when `execution.mode` is
`celery`. The coordinator (the leader's cycle job) opens the cycle, sends one task per account
(each pulls, gates and executes its account on a worker), waits, then executes what is left
(accounts no worker executed) and notifies itself. Tasks are sent by name: the task itself (agent/runtime/celery_app.py, the workers' entry point)
builds its own connectors, and this module needs nothing of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery

from agent.cycle.run_context import AccountRunner, RunContext
from agent.cycle.summary import CycleSummary

BROKER_ENV = "PMA_CELERY_BROKER_URL"
QUEUE_ENV = "PMA_CELERY_QUEUE"
RUN_ACCOUNT_TASK = "paid_media_agent.run_account"
app = Celery("paid_media_agent")
app.conf.update(
    broker_url=os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/0"),
    result_backend=os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/0"),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_default_queue=os.environ.get(QUEUE_ENV, "paid_media_agent"),
)


def workers_runner(config_path: Path) -> AccountRunner:
    """The cycle's account runner for Celery mode; workers read the config from `config_path`."""
    def run_on_workers(run: RunContext) -> list[CycleSummary]:
        return run_accounts_on_workers(run, config_path)

    return run_on_workers


def run_accounts_on_workers(run: RunContext, config_path: Path) -> list[CycleSummary]:
    """Send every account to the workers and collect their parts (failed tasks count as failed accounts).

    The coordinator's "now" travels with each task, so every account is evaluated for the same day
    whichever worker runs it."""
    config, cycle_id, dry_run = run.config, run.cycle_id, run.dry_run
    broker = config.execution.celery_broker_url.get_secret_value()
    app.conf.update(broker_url=broker, result_backend=broker)
    now = run.clock.now().isoformat()
    pending: list[tuple[str, Any]] = [
        (account.id, app.send_task(RUN_ACCOUNT_TASK, args=[str(config_path.resolve()), account.id, cycle_id, now,
                                                           dry_run], queue=config.execution.celery_queue))
        for account in config.accounts if not run.stopping()]
    parts = []
    for account_id, result in pending:
        try:
            parts.append(CycleSummary.from_dict(result.get(timeout=config.execution.account_timeout_seconds)))
        except Exception as error:  # a lost worker or a timeout: report the account as failed
            parts.append(CycleSummary(cycle_id=cycle_id, dry_run=dry_run, accounts=1, accounts_failed=1,
                                      errors=[f"{account_id}: worker failed: {type(error).__name__}: {error}"]))
    return parts
