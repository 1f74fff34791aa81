"""Per-account cycle work on Celery workers (Redis broker), for portfolios beyond one machine: the
workers' entry point.

The coordinator's side (the app's settings, sending one task per account and collecting the parts)
is agent/runtime/celery_dispatch.py. Workers read the same config file and database; the coordinator's
"now" travels with each task, so every account is evaluated for the same day whichever worker runs it.

Each task pulls, evaluates, gates and executes its account, as an account's thread does in
process: its approved actions never wait for the coordinator's end-of-cycle sweep (which skips
accounts a worker executed). What a worker sets up once, not per task (`WorkerSetup`): the config,
parsed once per content of the file (keyed by its SHA-256, so an edited file is read again); the
database engine; the platform request limits shared with every other worker through Redis
(connectors/shared_request_limits.py); and the pool an account's independent reads run in.

Start a worker with:  PMA_CELERY_BROKER_URL=redis://HOST:6379/0 celery -A agent.runtime.celery_app worker
(and PMA_CELERY_QUEUE when `execution.celery_queue` is not the default)
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agent.bootstrap import build_connectors
from agent.clock import FixedClock
from agent.config import AgentConfig, load_config
from agent.cycle.account_turn import run_account
from agent.cycle.concurrency import SharedReads
from agent.cycle.run_context import RunContext
from agent.runtime.celery_dispatch import BROKER_ENV, QUEUE_ENV, RUN_ACCOUNT_TASK, app
from agent.storage.account_lock import account_lock
from agent.storage.store import make_engine
from connectors.request_limits import limiting_requests
from connectors.shared_request_limits import SharedRequestLimiter

__all__ = ["BROKER_ENV", "QUEUE_ENV", "WorkerSetup", "app", "run_account_task", "worker_setup"]


@dataclass(frozen=True)
class WorkerSetup:
    """What every task of a worker shares, for one content of the config file."""

    digest: str
    config: AgentConfig
    engine: Engine
    limiter: SharedRequestLimiter
    reads: ThreadPoolExecutor

    def close(self) -> None:
        self.reads.shutdown(wait=True)
        self.engine.dispose()


_SETUPS: dict[str, WorkerSetup] = {}
_SETUP_LOCK = threading.Lock()


def _set_up(config: AgentConfig, digest: str) -> WorkerSetup:
    execution = config.execution
    limiter = SharedRequestLimiter(execution.celery_broker_url.get_secret_value(), execution.concurrency_for,
                                   per_second=execution.requests_per_second, per_day=execution.requests_per_day,
                                   namespace=f"pma:limits:{execution.celery_queue}")
    most = max((execution.concurrency_for(a.platform) for a in config.accounts), default=4)
    return WorkerSetup(digest, config, make_engine(config.database_url.get_secret_value()), limiter,
                       ThreadPoolExecutor(max_workers=max(2, most), thread_name_prefix="worker-read"))


def worker_setup(config_path: Path) -> WorkerSetup:
    """The worker's setup for the config file as it is now: parsed again only when its bytes changed."""
    path = str(config_path.resolve())
    digest = hashlib.sha256(config_path.read_bytes()).hexdigest()
    with _SETUP_LOCK:
        setup = _SETUPS.get(path)
        if setup is None or setup.digest != digest:
            if setup is not None:
                setup.close()
            setup = _SETUPS[path] = _set_up(load_config(config_path), digest)
    return setup


@app.task(name=RUN_ACCOUNT_TASK)
def run_account_task(config_path: str, account_id: str, cycle_id: int, now: str, dry_run: bool) -> dict[str, Any]:
    """Pull, evaluate, gate and execute one account on a worker; returns its part of the cycle summary."""
    setup = worker_setup(Path(config_path))
    config, engine = setup.config, setup.engine
    clock = FixedClock(datetime.fromisoformat(now))
    account = config.account(account_id)
    connectors = build_connectors(config, clock, engine)
    run = RunContext(engine=engine, config=config, connectors=connectors, clock=clock, dry_run=dry_run,
                     cycle_id=cycle_id)
    # the account's independent reads in parallel, at most half its platform's slots (as in process)
    reads = SharedReads(setup.reads, per_account=setup.limiter.limit(account.platform) // 2).for_account()
    with limiting_requests(setup.limiter), account_lock(engine, account_id):  # one process per account
        part = run_account(run, account, reads=reads, execute=not dry_run)
    return part.as_dict()
