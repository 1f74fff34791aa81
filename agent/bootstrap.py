"""The one place that wires the app: what is built from the config, and handed down.

Entry points (agent/cli.py, agent/commands/*, agent/runtime/service.py, agent/runtime/jobs.py, the Celery worker
task in agent/runtime/celery_app.py, and the public surface agent/api.py) call this module; nothing below
them imports it: the cycle, the approvals and the executor receive what they need as arguments.

    builds                      from                                   used by
    connectors                  connector plugins (entry points)       cycle, executor, reconcile
    connectors_factory          the same, built on demand              approvals after a human's answer
    notifier                    approvals.slack / approvals.email      end of each cycle
    account runner              execution.mode (threads or Celery)     the cycle's per-account step
    run_configured_cycle        all of the above                       `run --once`, the cycle job, api

Example:

    connectors = build_connectors(config, clock, engine)
    summary = run_configured_cycle(engine, config, clock, connectors, config_path=path)
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from agent.alerts.push import AlertPusher
from agent.alerts.rule_notices import send_rule_notices
from agent.approvals.followup import ConnectorsFactory
from agent.approvals.mail import ApprovalMailer
from agent.approvals.notify import notify_pending
from agent.approvals.settings import approval_settings_of
from agent.approvals.slack import SlackApprovals
from agent.clock import Clock, local_today
from agent.config import AccountConfig, AgentConfig
from agent.cycle.run import run_accounts_in_threads, run_cycle
from agent.cycle.run_context import AccountRunner, Notify, Progress
from agent.cycle.summary import CycleSummary
from agent.decisions.snapshots import load_snapshot
from agent.runtime.celery_dispatch import workers_runner
from connectors.base import Connector
from connectors.connector_options import ConnectorOptions
from connectors.registry import ConnectorContext, create_connector
from policies.base import Snapshot

__all__ = ["account_as_mapping", "account_runner", "alert_pusher", "build_connectors", "build_notifier", "connectors_factory",
           "run_configured_cycle"]


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
            options=ConnectorOptions(engine=engine),
        )
        connectors[platform] = create_connector(context)
    return connectors


def connectors_factory(config: AgentConfig, clock: Clock, engine: Engine) -> ConnectorsFactory:
    """Connectors built when first asked for (an approval answered in Slack or by email), not at start."""
    return functools.partial(build_connectors, config, clock, engine)


def build_notifier(engine: Engine, config: AgentConfig, clock: Clock) -> Notify:
    """Tells each account's approvers about new pending actions (Slack, email, or nothing), then
    pushes the accounts' alerts (agent/alerts/) if the config asks for them."""
    settings = approval_settings_of(config)
    slack = SlackApprovals(engine, settings.slack) if settings.slack is not None else None
    mailer = ApprovalMailer(engine, settings.email) if settings.email is not None else None
    approvals = functools.partial(notify_pending, engine, config, clock, settings=settings, slack=slack, mailer=mailer)
    if config.rules:
        approvals = functools.partial(_then_rule_notices, approvals, engine, config, clock,
                                      slack.client if slack else None, mailer)
    if not config.alerts.enabled:
        return approvals
    pusher = alert_pusher(engine, config, clock, slack=slack.client if slack else None, mailer=mailer)
    return functools.partial(_notify_then_alert, approvals, pusher, clock)


def _then_rule_notices(approvals: Notify, engine: Engine, config: AgentConfig, clock: Clock,
                       slack: WebClient | None, mailer: ApprovalMailer | None) -> Counter[str]:
    counts = approvals()
    counts.update(send_rule_notices(engine, config, clock.now(), slack=slack, mailer=mailer))
    return counts


def alert_pusher(engine: Engine, config: AgentConfig, clock: Clock, *, slack: WebClient | None,
                 mailer: ApprovalMailer | None) -> AlertPusher:
    """The alert pusher, reading each account's snapshot from our store on the account's day."""
    def snapshot_of(account: AccountConfig, now: datetime) -> Snapshot:
        return load_snapshot(engine, account, local_today(clock, account.timezone), clock)

    return AlertPusher(engine, config, snapshot_of, slack=slack, mailer=mailer)


def _notify_then_alert(approvals: Notify, pusher: AlertPusher, clock: Clock) -> Counter[str]:
    counts = approvals()
    counts.update(pusher.push(clock.now()))
    return counts


def account_runner(config: AgentConfig, config_path: Path | None) -> AccountRunner:
    """Threads in this process, or Celery workers when `execution.mode` is `celery` (the workers
    read the config from `config_path`)."""
    if config.execution.mode != "celery":
        return run_accounts_in_threads
    if config_path is None:
        raise ValueError("execution mode celery needs the config file path for the workers")
    return workers_runner(config_path)


def run_configured_cycle(engine: Engine, config: AgentConfig, clock: Clock,
                         connectors: Mapping[str, Connector] | None = None, *, config_path: Path | None = None,
                         dry_run: bool | None = None, progress: Progress | None = None,
                         should_stop: Callable[[], bool] | None = None) -> CycleSummary:
    """One cycle with everything the config asks for: its connectors (unless given), its account
    runner and its approvers' notifications."""
    if connectors is None:
        connectors = build_connectors(config, clock, engine)
    return run_cycle(engine, config, connectors, clock, dry_run=dry_run, progress=progress, should_stop=should_stop,
                     run_accounts=account_runner(config, config_path), notify=build_notifier(engine, config, clock))
