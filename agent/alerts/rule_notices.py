"""Delivering the user rules' `notify` actions (docs/rules.md): a firing's message, sent to people.

A `notify` firing is recorded like every proposal (an `actions` row, kind `notify`, state `reported`,
with the rule's evidence) and counts towards the rule's `max_per_period`; it never reaches a platform.
After the cycle, each live one (not a dry run, not a rule on `dry_run`) is sent to the alerts'
destinations (`alerts.slack_channel`, `alerts.email_to`) if the config has them, else to the account's
approval route (its Slack channel, its email approvers). Once sent on every destination a
`rule_notice_sent` event is appended for the action, so it is never sent again; a destination that fails
leaves it for the next cycle (a crash between the send and the event repeats one message rather than
lose it).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from agent.approvals.mail import ApprovalMailer
from agent.approvals.settings import approval_settings_of
from agent.approvals.slack import escape
from agent.config import AgentConfig
from agent.storage.rule_records import record_notice_sent, unsent_rule_notices

log = logging.getLogger(__name__)


def notice_text(notice: Any) -> str:
    rule = str(notice.policy).removeprefix("rule:")
    message = str((notice.change or {}).get("message") or "")
    return f"Rule {rule} on {notice.entity_name} ({notice.account_id}): {message}"


def destinations(config: AgentConfig, account_id: str) -> tuple[str | None, tuple[str, ...]]:
    """(Slack channel, email recipients) for an account's rule notices."""
    if config.alerts.enabled:
        return config.alerts.slack_channel, tuple(config.alerts.email_to)
    route = approval_settings_of(config).for_account(account_id)
    if route is None:
        return None, ()
    return route.slack_channel, tuple(route.email_approvers)


def send_rule_notices(engine: Engine, config: AgentConfig, now: datetime, *, slack: WebClient | None,
                      mailer: ApprovalMailer | None) -> Counter[str]:
    """Send every unsent rule notice; counts `rule_notices_sent`, `rule_notices_failed`,
    `rule_notices_undeliverable` (no destination configured for the account)."""
    counts: Counter[str] = Counter()
    if not config.rules:
        return counts
    with engine.connect() as connection:
        notices = unsent_rule_notices(connection, now)
    for notice in notices:
        channel, recipients = destinations(config, str(notice.account_id))
        channel = channel if slack is not None else None
        recipients = recipients if mailer is not None else ()
        if channel is None and not recipients:
            counts["rule_notices_undeliverable"] += 1
            continue
        text, sent = notice_text(notice), []
        try:
            if channel is not None and slack is not None:
                slack.chat_postMessage(channel=channel, text=escape(text, 2900), unfurl_links=False,
                                       unfurl_media=False)
                sent.append("slack")
            if recipients and mailer is not None:
                mailer.send(_email(mailer, recipients, text, now))
                sent.append("email")
        except Exception:  # Slack or SMTP down: the next cycle sends it again
            log.exception("rule_notice.failed", extra={"account": notice.account_id, "action": notice.id})
            counts["rule_notices_failed"] += 1
            continue
        with engine.begin() as connection:
            record_notice_sent(connection, int(notice.id), str(notice.account_id),
                               str(notice.policy).removeprefix("rule:"), sent, now, notice.cycle_id)
        counts["rule_notices_sent"] += 1
    return counts


def _email(mailer: ApprovalMailer, recipients: tuple[str, ...], text: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mailer.settings.from_address
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"[paid-media-agent] {text}"[:200]
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring="pma.rule", domain=mailer.domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text + "\n")
    return message
