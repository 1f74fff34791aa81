"""Per-account cycle work on Celery workers (Redis broker), for portfolios beyond one machine.

The coordinator (the leader's cycle job) opens the cycle, sends one task per account, waits, then
executes approved actions and notifies itself, so exactly-once execution stays in one place.
Workers read the same config file and database; the coordinator's "now" travels with each task,
so every account is evaluated for the same day whichever worker runs it.

Start a worker with:  PMA_CELERY_BROKER_URL=redis://HOST:6379/0 celery -A agent.celery_app worker
(and PMA_CELERY_QUEUE when `execution.celery_queue` is not the default)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from celery import Celery

from agent.account_lock import account_lock
from agent.clock import Clock, FixedClock
from agent.config import AgentConfig, load_config

BROKER_ENV = "PMA_CELERY_BROKER_URL"
QUEUE_ENV = "PMA_CELERY_QUEUE"
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


@app.task(name="paid_media_agent.run_account")
def run_account_task(config_path: str, account_id: str, cycle_id: int, now: str, dry_run: bool) -> dict[str, Any]:
    """Pull, evaluate and gate one account on a worker; returns its part of the cycle summary."""
    from agent.cycle import build_connectors, run_account
    from agent.store import make_engine

    config = load_config(Path(config_path))
    clock = FixedClock(datetime.fromisoformat(now))
    engine = make_engine(config.database_url.get_secret_value())
    try:
        connectors = build_connectors(config, clock, engine)
        with account_lock(engine, account_id):  # one process at a time per account (agent/account_lock.py)
            part = run_account(engine, connectors, config.account(account_id), config, clock, dry_run, cycle_id,
                               lambda _message: None)
        return part.as_dict()
    finally:
        engine.dispose()


def run_accounts_on_workers(config: AgentConfig, config_path: Path, clock: Clock, dry_run: bool, cycle_id: int,
                            stopping: Callable[[], bool]) -> list[Any]:
    """Send every account to the workers and collect their parts (failed tasks count as failed accounts)."""
    from agent.cycle import CycleSummary

    broker = config.execution.celery_broker_url.get_secret_value()
    app.conf.update(broker_url=broker, result_backend=broker)
    now = clock.now().isoformat()
    pending = [(account.id, run_account_task.apply_async(
                    args=[str(config_path.resolve()), account.id, cycle_id, now, dry_run],
                    queue=config.execution.celery_queue))
               for account in config.accounts if not stopping()]
    parts = []
    for account_id, result in pending:
        try:
            parts.append(CycleSummary.from_dict(result.get(timeout=config.execution.account_timeout_seconds)))
        except Exception as error:  # a lost worker or a timeout: report the account as failed
            parts.append(CycleSummary(cycle_id=cycle_id, dry_run=dry_run, accounts=1, accounts_failed=1,
                                      errors=[f"{account_id}: worker failed: {type(error).__name__}: {error}"]))
    return parts
