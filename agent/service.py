"""`paid-media-agent serve`: HTTP server, leader election and the scheduler, in one process.

Every process serves HTTP; only the leader runs the scheduled jobs. A standby polls for the
leadership and takes over within `leader_poll_seconds` once the leader is gone. On SIGTERM or
SIGINT the process stops taking jobs, lets the cycle in hand finish its current step (it checks
the stop flag between accounts and before executing), and exits 0 within the shutdown bound.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from agent import jobs, metrics
from agent.approvals.slack_endpoint import slack_routes
from agent.clock import SystemClock
from agent.config import AgentConfig
from agent.cycle import build_connectors
from agent.leader import LeaderLock, leader_lock_for
from agent.recovery import last_cycle_cut_short, recover
from agent.scheduler import build_scheduler, sync_jobs
from agent.server import ServiceStatus, build_app
from agent.store import make_engine

log = logging.getLogger(__name__)


class AgentService:
    def __init__(self, config: AgentConfig, config_path: Path) -> None:
        self.config = config
        self.config_path = config_path.resolve()
        self.engine = make_engine(config.database_url.get_secret_value())
        self.clock = SystemClock()
        self.status = ServiceStatus()
        self.runtime = jobs.Runtime(engine=self.engine, clock=self.clock, recovered=self.status.recovered)
        self.lock: LeaderLock = leader_lock_for(self.engine)
        self.scheduler: BackgroundScheduler | None = None
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until a stop signal; returns the exit code."""
        jobs.RUNTIME = self.runtime
        self._install_signal_handlers()
        self._start_http()
        log.info("service.started", extra={"host": self.config.service.host, "port": self.config.service.port})
        try:
            while not self.runtime.stop.is_set():
                self._lead_or_wait()
                self.runtime.stop.wait(self.config.service.leader_poll_seconds)
        finally:
            self._shutdown()
        return 0

    def _lead_or_wait(self) -> None:
        if self.scheduler is not None:
            if not self.lock.still_held():
                log.warning("service.leadership_lost")
                self._stop_scheduler()
            return
        if self.lock.try_acquire():
            self._become_leader()

    def _become_leader(self) -> None:
        log.info("service.leader")
        self.status.is_leader = True
        metrics.IS_LEADER.set(1)
        self.status.recovered.clear()  # /readyz: not ready until recovery and any catch-up cycle are done
        settled = recover(self.engine, build_connectors(self.config, self.clock, self.engine), self.config,
                          self.clock)
        if settled.outcomes:
            log.info("service.reconciled", extra={"outcomes": dict(settled.outcomes)})
        scheduler = build_scheduler(self.engine)
        scheduler.start(paused=True)
        sync_jobs(scheduler, self.config, self.config_path)
        if last_cycle_cut_short(self.engine) or settled.outcomes["reconciled_requeued"]:
            log.info("service.catch_up_cycle")  # the interrupted work runs now, not at the next scheduled run
            scheduler.modify_job("cycle", next_run_time=datetime.now(UTC))
        else:
            self.status.recovered.set()
        scheduler.resume()
        self.scheduler = scheduler
        self.status.scheduler_running = True

    def _stop_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        self.status.scheduler_running = False
        self.status.is_leader = False
        metrics.IS_LEADER.set(0)

    def _shutdown(self) -> None:
        log.info("service.stopping")
        self.runtime.stop.set()
        done = threading.Event()

        def stop_jobs() -> None:
            self._stop_scheduler()
            done.set()

        threading.Thread(target=stop_jobs, daemon=True).start()
        if not done.wait(self.config.service.shutdown_timeout_seconds):
            log.error("service.shutdown_timeout", extra={"seconds": self.config.service.shutdown_timeout_seconds})
        self.lock.release()
        if self._http is not None:
            self._http.should_exit = True
        if self._http_thread is not None:
            self._http_thread.join(timeout=10)
        self.engine.dispose()
        log.info("service.stopped")

    # -- pieces -----------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: Any) -> None:
            log.info("service.signal", extra={"signal": signal.Signals(signum).name})
            self.runtime.stop.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _start_http(self) -> None:
        slack = slack_routes(self.engine, self.config, self.clock, self.config.approvals)
        app = build_app(self.engine, self.config, self.status, dashboard=self._dashboard, extra_routes=slack)
        server_config = uvicorn.Config(app, host=self.config.service.host, port=self.config.service.port,
                                       log_config=None, access_log=False, lifespan="off")
        self._http = uvicorn.Server(server_config)
        self._http_thread = threading.Thread(target=self._http.run, name="http", daemon=True)
        self._http_thread.start()

    def _dashboard(self) -> str:
        from agent.reports.dashboard import render_dashboard

        return render_dashboard(self.engine, self.config, self.clock)
