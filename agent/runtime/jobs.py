"""The scheduled jobs. Module-level functions taking the config path, so APScheduler's persistent
job store can name them; each reloads the config, so an edited file takes effect at the next run.

A process that runs jobs sets `RUNTIME` (engine, clock, stop flag); jobs reuse its engine and
honour its stop flag so that a shutdown never leaves a cycle half-done.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from slack_sdk import WebClient
from sqlalchemy import Engine

from agent import prometheus as metrics
from agent.approvals.mail import ApprovalMailer
from agent.approvals.mail_replies import ReplyPoller
from agent.bootstrap import connectors_factory, run_configured_cycle
from agent.clock import Clock, SystemClock
from agent.config import load_config
from agent.experiments.weekly import as_html, weekly_impact
from agent.reports.dashboard import render_dashboard
from agent.reports.pacing import pacing_reports, render_html, render_text
from agent.storage.action_states import expire_stale

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    engine: Engine
    clock: Clock = field(default_factory=SystemClock)
    stop: threading.Event = field(default_factory=threading.Event)
    busy: threading.Lock = field(default_factory=threading.Lock)
    # set once a cycle has run after taking over the leadership (the service's /readyz waits for it)
    recovered: threading.Event = field(default_factory=threading.Event)


RUNTIME: Runtime | None = None


def _runtime() -> Runtime:
    if RUNTIME is None:
        raise RuntimeError("jobs run inside `paid-media-agent serve` (no runtime set)")
    return RUNTIME


def cycle_job(config_path: str) -> None:
    """Pull, evaluate, gate and execute; update the service's metrics."""
    runtime = _runtime()
    if runtime.stop.is_set():
        return
    config = load_config(Path(config_path))
    with runtime.busy:
        started = time.monotonic()
        summary = run_configured_cycle(runtime.engine, config, runtime.clock, should_stop=runtime.stop.is_set,
                                       config_path=Path(config_path))
    runtime.recovered.set()
    metrics.CYCLE_SECONDS.observe(time.monotonic() - started)
    metrics.CYCLES.labels(status=summary.status).inc()
    metrics.ROWS_PULLED.inc(summary.metric_rows_upserted)
    for kind, count in summary.proposals_by_kind.items():
        metrics.PROPOSALS.labels(kind=kind).inc(count)
    for state, count in (summary.actions_by_state + summary.execution).items():
        metrics.ACTIONS.labels(state=state).inc(count)
    if summary.status == "ok":
        metrics.LAST_SUCCESS.set(time.time())


def expiry_job(config_path: str) -> None:
    """Expire approvals nobody answered in time."""
    runtime = _runtime()
    with runtime.engine.begin() as connection:
        expired = expire_stale(connection, runtime.clock.now())
    if expired:
        log.info("approvals.expired", extra={"count": expired})


def mail_poll_job(config_path: str) -> None:
    """Read approvers' email replies and act on them."""
    runtime = _runtime()
    config = load_config(Path(config_path))
    settings = config.approvals
    if settings.email is None:
        return
    mailer = ApprovalMailer(runtime.engine, settings.email)
    counts = ReplyPoller(runtime.engine, config, runtime.clock, settings, mailer,
                         connectors_factory=connectors_factory(config, runtime.clock, runtime.engine)).poll()
    if counts:
        log.info("approvals.mail_polled", extra={"counts": dict(counts)})


def _reports_dir(config_path: str) -> Path:
    config = load_config(Path(config_path))
    directory = Path(config.reporting.output_dir)
    if not directory.is_absolute():
        directory = Path(config_path).parent / directory
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def dashboard_job(config_path: str) -> None:
    """Write the daily dashboard (the live one is always at /dashboard)."""
    runtime = _runtime()
    config = load_config(Path(config_path))
    out = _reports_dir(config_path) / f"dashboard-{runtime.clock.now():%Y-%m-%d}.html"
    out.write_text(render_dashboard(runtime.engine, config, runtime.clock))
    log.info("report.dashboard", extra={"path": str(out)})


def pacing_job(config_path: str) -> None:
    """Write the weekly pacing report, and post it to Slack where a channel is configured."""
    runtime = _runtime()
    config = load_config(Path(config_path))
    reports = pacing_reports(runtime.engine, config, runtime.clock)
    directory = _reports_dir(config_path)
    stamp = f"{runtime.clock.now():%Y-%m-%d}"
    impact, alerts = weekly_impact(runtime.engine, config, runtime.clock.now())
    text = f"{render_text(reports)}\n{impact}"
    (directory / f"pacing-{stamp}.txt").write_text(text)
    (directory / f"pacing-{stamp}.html").write_text(render_html(reports).replace("</body>", f"{as_html(impact)}</body>"))
    approvals = config.approvals
    channel = approvals.default.slack_channel if approvals.default else None
    if approvals.slack is not None and channel:
        client = WebClient(token=approvals.slack.bot_token.get_secret_value(), base_url=approvals.slack.base_url)
        client.chat_postMessage(channel=channel, text=f"```{text}```")
        for alert in alerts:
            client.chat_postMessage(channel=channel, text=f":warning: {alert}")
    log.info("report.pacing", extra={"accounts": len(reports)})
