"""`paid-media-agent serve`: HTTP server, leader election and the scheduler, in one process.

Every process serves HTTP; only the leader runs the scheduled jobs. A standby polls for the
leadership and takes over within `leader_poll_seconds` once the leader is gone. On SIGTERM or
SIGINT the process stops taking jobs, lets the cycle in hand finish its current step (it checks
the stop flag between accounts and before executing), and exits 0 within the shutdown bound.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from agent import prometheus as metrics
from agent.approvals.slack_endpoint import BODY_LIMIT as SLACK_BODY_LIMIT
from agent.approvals.slack_endpoint import PATH as SLACK_PATH
from agent.approvals.slack_endpoint import slack_routes
from agent.auth.roles import Principal, can_view, can_view_all
from agent.auth.users import count_users
from agent.bootstrap import build_connectors, connectors_factory
from agent.clock import SystemClock
from agent.config import AgentConfig
from agent.console.routes import console_routes
from agent.cycle.concurrency import engine_pool_size
from agent.errors import PortUnavailable, StartupError
from agent.execution.recovery import last_cycle_cut_short, recover
from agent.outcomes.webhook import BODY_LIMIT as OUTCOMES_BODY_LIMIT
from agent.outcomes.webhook import PATH as OUTCOMES_PATH
from agent.outcomes.webhook import outcome_routes
from agent.reports.dashboard import render_dashboard
from agent.runtime import jobs
from agent.runtime.leader import LeaderLock, leader_lock_for
from agent.runtime.scheduler import build_scheduler, sync_jobs
from agent.runtime.server import ServiceStatus, bind_socket, build_app
from agent.storage.store import make_engine

log = logging.getLogger(__name__)
EXIT_CANNOT_START = 2
# Slow or idle clients must not hold connections forever; bodies have their own deadline
# (agent/auth/limits.py). The proxy in front usually has its own limits too.
HTTP_LIMITS: dict[str, Any] = {"timeout_keep_alive": 5, "limit_concurrency": 100, "timeout_graceful_shutdown": 10,
                               "h11_max_incomplete_event_size": 16 * 1024}


class AgentService:
    def __init__(self, config: AgentConfig, config_path: Path) -> None:
        self.config = config
        self.config_path = config_path.resolve()
        self.engine = make_engine(config.database_url.get_secret_value(), pool_size=engine_pool_size(config))
        self.clock = SystemClock()
        self.status = ServiceStatus()
        self.runtime = jobs.Runtime(engine=self.engine, clock=self.clock, recovered=self.status.recovered)
        self.lock: LeaderLock = leader_lock_for(self.engine)
        self.scheduler: BackgroundScheduler | None = None
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until a stop signal; returns the exit code (2, after one line saying why, if it cannot
        start: its HTTP port is taken, or users exist while no session secret is set)."""
        jobs.RUNTIME = self.runtime
        try:
            self._check_sign_in()
            self._start_http()
        except (PortUnavailable, StartupError) as error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            self.engine.dispose()
            return EXIT_CANNOT_START
        self._install_signal_handlers()
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

    def _check_sign_in(self) -> None:
        if self.config.service.session_secret is None and count_users(self.engine):
            raise StartupError("users exist (paid-media-agent users list) but service.session_secret is not set: "
                               "nobody could sign in; set it to a long random secret")

    def _start_http(self) -> None:
        """Bind the port here, in the main thread, so a taken port stops the start instead of leaving
        a service without its HTTP server; then serve from a thread."""
        service = self.config.service
        slack = slack_routes(self.engine, self.config, self.clock, self.config.approvals,
                             connectors_factory=connectors_factory(self.config, self.clock, self.engine))
        signed = {SLACK_PATH: SLACK_BODY_LIMIT} if slack else {}
        outcomes = outcome_routes(self.engine, self.config, self.clock.now)
        signed |= {OUTCOMES_PATH: OUTCOMES_BODY_LIMIT} if outcomes else {}
        app = build_app(self.engine, self.config, self.status, dashboard=self._dashboard,
                        extra_routes=[*slack, *outcomes], signed_paths=signed,
                        console_routes=console_routes(self.engine, self.config, self.clock,
                                                      connectors_factory(self.config, self.clock, self.engine)))
        sock = bind_socket(service.host, service.port)
        server_config = uvicorn.Config(app, host=service.host, port=service.port, log_config=None, access_log=False,
                                       lifespan="off", server_header=False, **HTTP_LIMITS)
        self._http = uvicorn.Server(server_config)
        self._http_thread = threading.Thread(target=self._http.run, kwargs={"sockets": [sock]}, name="http",
                                             daemon=True)
        self._http_thread.start()
        while not self._http.started:  # a few milliseconds; an error here means no HTTP server at all
            if not self._http_thread.is_alive():
                raise StartupError(f"the HTTP server on {service.host}:{service.port} stopped while starting")
            self._http_thread.join(timeout=0.02)

    def _dashboard(self, principal: Principal) -> str:
        config = self.config
        if not can_view_all(principal):  # a user limited to some accounts sees only those
            config = config.model_copy(update={"accounts": [a for a in config.accounts
                                                            if can_view(principal, a.id)]})
        return render_dashboard(self.engine, config, self.clock)
