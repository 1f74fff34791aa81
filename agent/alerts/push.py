"""Delivering alerts: deduplicated, held through quiet hours, sent at once or as a daily digest.

Every alert raised is stored (agent/alerts/store.py) before anything is sent: the same alert (same
key) raised again within `dedup_hours` is not stored again, so it is never sent twice. Stored
alerts wait (`sent_at` empty) while the account's local time is in quiet hours, or until the
digest time in digest mode; they go out together at the first cycle after. A send that fails
leaves them waiting for the next cycle.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from sqlalchemy import Engine, RowMapping

from agent.alerts import store
from agent.alerts.compose import SEVERITY_RANK, candidates
from agent.alerts.settings import AlertSettings, QuietHours
from agent.approvals.mail import ApprovalMailer
from agent.approvals.slack import escape
from agent.config import AccountConfig, AgentConfig
from agent.storage.action_states import as_utc
from policies.base import Snapshot

log = logging.getLogger(__name__)
SnapshotOf = Callable[[AccountConfig, datetime], Snapshot]


def _clock_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(local: datetime, quiet: QuietHours | None) -> bool:
    if quiet is None:
        return False
    start, end, now = _clock_time(quiet.start), _clock_time(quiet.end), local.time()
    return start <= now < end if start <= end else (now >= start or now < end)


def digest_due(local: datetime, digest_at: str, last_sent: datetime | None) -> bool:
    """At or after the digest time, and no digest sent yet on this local day."""
    if local.time() < _clock_time(digest_at):
        return False
    return last_sent is None or as_utc(last_sent).astimezone(local.tzinfo).date() < local.date()


class AlertPusher:
    """Pushes each account's alerts to the configured Slack channel and email recipients."""

    def __init__(self, engine: Engine, config: AgentConfig, snapshot_of: SnapshotOf, *,
                 slack: WebClient | None, mailer: ApprovalMailer | None) -> None:
        self.engine, self.config, self.snapshot_of = engine, config, snapshot_of
        self.settings: AlertSettings = config.alerts
        self.slack, self.mailer = slack, mailer
        self.base_url = config.service.public_url.rstrip("/")

    def push(self, now: datetime) -> Counter[str]:
        """Raise and deliver every account's alerts; counts (`alerts_raised`, `alerts_sent`, ...)."""
        counts: Counter[str] = Counter()
        if not self.settings.enabled:
            return counts
        for account in self.config.accounts:
            try:
                counts.update(self.push_account(account, now))
            except Exception:  # one account's alerts must not stop the others, nor the cycle
                log.exception("alerts.failed", extra={"account": account.id})
                counts["alerts_failed"] += 1
        return counts

    def push_account(self, account: AccountConfig, now: datetime) -> Counter[str]:
        counts: Counter[str] = Counter()
        found = candidates(self.snapshot_of(account, now), self.config.policy_settings(account), self.settings)
        since = now - timedelta(hours=self.settings.dedup_hours)
        with self.engine.begin() as connection:
            for candidate in found:
                if store.seen_since(connection, account.id, candidate.key, since):
                    counts["alerts_deduplicated"] += 1
                    continue
                store.add_alert(connection, account.id, candidate.key, candidate.severity, candidate.message,
                                f"{self.base_url}{candidate.path}", now)
                counts["alerts_raised"] += 1
            waiting = store.held(connection, account.id)
            last_sent = store.last_sent(connection, account.id)
        if not waiting:
            return counts
        local = now.astimezone(ZoneInfo(account.timezone))
        if in_quiet_hours(local, self.settings.quiet_hours) or (
                self.settings.mode == "digest" and not digest_due(local, self.settings.digest_at, last_sent)):
            counts["alerts_held"] += len(waiting)
            return counts
        if self._send(account, waiting, now):
            with self.engine.begin() as connection:
                store.mark_sent(connection, [int(a["id"]) for a in waiting], now)
            counts["alerts_sent"] += len(waiting)
        else:
            counts["alerts_failed"] += len(waiting)
        return counts

    def _send(self, account: AccountConfig, alerts: Sequence[RowMapping], now: datetime) -> bool:
        worst = max(alerts, key=lambda a: SEVERITY_RANK.get(str(a["severity"]), 0))["severity"]
        title = (f"{worst}: {alerts[0]['message']}" if len(alerts) == 1
                 else f"{len(alerts)} alerts for {account.id} ({worst} at worst)")
        sent = True
        if self.slack is not None and self.settings.slack_channel:
            lines = [f"*{escape(str(a['severity']))}* {escape(str(a['message']), 600)} <{a['link']}|open in the console>"
                     for a in alerts]
            try:
                self.slack.chat_postMessage(channel=self.settings.slack_channel, text=escape(title, 300),
                                            blocks=[{"type": "section", "text": {"type": "mrkdwn",
                                                                                 "text": escape(title, 300)}},
                                                    *({"type": "section", "text": {"type": "mrkdwn", "text": line}}
                                                      for line in lines[:40])],
                                            unfurl_links=False, unfurl_media=False)
            except Exception:
                log.exception("alerts.slack_failed", extra={"account": account.id})
                sent = False
        if self.mailer is not None and self.settings.email_to:
            message = EmailMessage()
            message["From"] = self.mailer.settings.from_address
            message["To"] = ", ".join(self.settings.email_to)
            message["Subject"] = f"[paid-media-agent] {title}"[:200]
            message["Date"] = format_datetime(now)
            message["Message-ID"] = make_msgid(idstring="pma.alert", domain=self.mailer.domain)
            message["Auto-Submitted"] = "auto-generated"
            message.set_content("\n\n".join(f"[{a['severity']}] {a['message']}\n{a['link']}" for a in alerts) + "\n")
            try:
                self.mailer.send(message)
            except Exception:
                log.exception("alerts.email_failed", extra={"account": account.id})
                sent = False
        return sent
