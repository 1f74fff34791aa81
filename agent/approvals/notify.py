"""After gating: announce new pending actions on each account's channels, and refresh old messages.

Called by the cycle once the gate has queued its actions. An action is announced once per channel
(the stored Slack `ts` / email request says it was); messages whose actions moved on since they
were posted (decided in the CLI, executed, expired, superseded) are rewritten. A channel that fails
is logged and recorded in the audit trail, and the next cycle tries again: a notification never
stops a cycle. With no channel configured this does nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Engine, RowMapping

from agent.approvals import records
from agent.approvals.mail import ApprovalMailer
from agent.approvals.settings import AccountApprovals, ApprovalSettings, approval_settings_of
from agent.approvals.slack import SlackApprovals
from agent.clock import Clock
from agent.config import AgentConfig
from agent.storage import audit_trail
from agent.storage.action_states import list_actions

log = logging.getLogger(__name__)


def _pending_by_account(engine: Engine) -> dict[str, list[RowMapping]]:
    with engine.connect() as connection:
        pending = [a for a in list_actions(connection, "pending_approval") if not a["dry_run"]]
    grouped: dict[str, list[RowMapping]] = {}
    for action in pending:
        grouped.setdefault(str(action["account_id"]), []).append(action)
    return grouped


def _record_failure(engine: Engine, clock: Clock, account_id: str | None, channel: str, error: Exception) -> None:
    log.warning("approval notification via %s failed for %s: %s", channel, account_id or "all accounts", error)
    with engine.begin() as connection:
        audit_trail.record_event(connection, at=clock.now(), event="notify_failed", actor=f"notify:{channel}",
                                 message=f"{type(error).__name__}: {error}", account_id=account_id)


def _post_slack(slack: SlackApprovals, engine: Engine, route: AccountApprovals, account_id: str,
                actions: Sequence[RowMapping], clock: Clock) -> int:
    with engine.connect() as connection:
        posted = records.slack_posted_action_ids(connection, [int(a["id"]) for a in actions])
    new = [a for a in actions if int(a["id"]) not in posted]
    if not new or route.slack_channel is None:
        return 0
    return slack.post(account_id, route.slack_channel, new, digest=route.mode == "digest", now=clock.now())


def _send_email(mailer: ApprovalMailer, engine: Engine, route: AccountApprovals, actions: Sequence[RowMapping],
                clock: Clock) -> int:
    with engine.connect() as connection:
        sent = records.emailed_action_ids(connection, [int(a["id"]) for a in actions])
    count = 0
    for action in actions:
        if int(action["id"]) in sent:
            continue
        mailer.send_request(action, route.email_approvers, clock.now())
        count += 1
    return count


def notify_pending(engine: Engine, config: AgentConfig, clock: Clock, *, settings: ApprovalSettings | None = None,
                   slack: SlackApprovals | None = None, mailer: ApprovalMailer | None = None) -> Counter[str]:
    """Announce pending actions not announced yet, refresh outdated Slack messages; returns counts
    (`slack_messages`, `emails`, `slack_refreshed`, `failures`)."""
    settings = settings if settings is not None else approval_settings_of(config)
    counts: Counter[str] = Counter()
    if settings.slack is None and settings.email is None:
        return counts
    if settings.slack is not None and slack is None:
        slack = SlackApprovals(engine, settings.slack)
    if settings.email is not None and mailer is None:
        mailer = ApprovalMailer(engine, settings.email)
    pending = _pending_by_account(engine)
    for account in config.accounts:
        route = settings.for_account(account.id)
        actions = pending.get(account.id, [])
        if route is None or not actions:
            continue
        if slack is not None and route.uses_slack:
            try:
                counts["slack_messages"] += _post_slack(slack, engine, route, account.id, actions, clock)
            except Exception as error:  # Slack down or misconfigured: the cycle goes on
                counts["failures"] += 1
                _record_failure(engine, clock, account.id, "slack", error)
        if mailer is not None and route.uses_email:
            try:
                counts["emails"] += _send_email(mailer, engine, route, actions, clock)
            except Exception as error:  # SMTP down: the next cycle sends what is still unsent
                counts["failures"] += 1
                _record_failure(engine, clock, account.id, "email", error)
    if slack is not None:
        try:
            counts["slack_refreshed"] += slack.refresh_outdated(clock.now())
        except Exception as error:
            counts["failures"] += 1
            _record_failure(engine, clock, None, "slack", error)
    return counts
