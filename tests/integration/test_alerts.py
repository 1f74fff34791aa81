"""Alerts pushed to Slack and email (the fake Slack server, the SMTP sink): deduplicated, held
through quiet hours, gathered in a daily digest, with a link to the console; never for a drop our
own action explains."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine

from agent.alerts.push import AlertPusher
from agent.approvals.mail import ApprovalMailer
from agent.config import AccountConfig, AgentConfig, parse_config
from policies.base import KnownChange, Snapshot
from tests.fakes.mail_servers import SmtpSink
from tests.fakes.slack_server import FakeSlack
from tests.unit.policies.test_anomaly_known_changes import YESTERDAY, _paused_yesterday

TOKEN = "xoxb-alerts-test"
MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def _config(database_url: str, slack: FakeSlack, sink: SmtpSink, **alerts: Any) -> AgentConfig:
    return parse_config({
        "database_url": database_url,
        "service": {"public_url": "https://agent.example.com"},
        "approvals": {
            "slack": {"bot_token": TOKEN, "signing_secret": "s" * 32, "base_url": slack.base_url},
            "email": {"from_address": "agent@example.com", "reply_address": "approvals@example.com",
                      "trusted_authserv_id": "mx.example.com",
                      "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none"},
                      "imap": {"host": "127.0.0.1", "username": "approvals", "password": "x"}},
        },
        "alerts": {"slack_channel": "C0ALERTS", "email_to": ["lead@example.com"], **alerts},
        "accounts": [{"id": "acct", "platform": "simulator", "simulate": "meta", "currency": "USD",
                      "timezone": "Europe/Berlin"}],
    }, environ={})


def _pusher(engine: Engine, config: AgentConfig, snapshot: Snapshot) -> AlertPusher:
    assert config.approvals.email is not None and config.approvals.slack is not None

    def snapshot_of(account: AccountConfig, now: datetime) -> Snapshot:
        return snapshot

    return AlertPusher(engine, config, snapshot_of,
                       slack=WebClient(token=TOKEN, base_url=config.approvals.slack.base_url),
                       mailer=ApprovalMailer(engine, config.approvals.email))


def _posts(slack: FakeSlack) -> list[str]:
    return [str(call.params.get("text", "")) for call in slack.named("chat.postMessage")]


def test_an_alert_goes_to_slack_and_email_once_with_a_console_link(engine: Engine, database_url: str,
                                                                    slack: FakeSlack, sink: SmtpSink) -> None:
    pusher = _pusher(engine, _config(database_url, slack, sink), _paused_yesterday())

    first = pusher.push(MORNING)
    again = pusher.push(MORNING + timedelta(hours=1))
    next_day = pusher.push(MORNING + timedelta(hours=25))

    assert first["alerts_sent"] >= 1 and "critical" in _posts(slack)[0]
    blocks = str(slack.named("chat.postMessage")[0].params.get("blocks"))
    assert "https://agent.example.com/accounts/acct" in blocks
    assert again["alerts_sent"] == 0 and again["alerts_deduplicated"] == first["alerts_raised"]
    assert next_day["alerts_sent"] == first["alerts_sent"]  # outside the window: said again
    mails = sink.take()
    assert len(mails) == 2 and mails[0].rcpt_tos == ["lead@example.com"]
    assert "https://agent.example.com/accounts/acct" in mails[0].message.get_content()
    assert len(_posts(slack)) == 2


def test_quiet_hours_hold_alerts_until_they_end(engine: Engine, database_url: str, slack: FakeSlack,
                                                sink: SmtpSink) -> None:
    config = _config(database_url, slack, sink, quiet_hours={"start": "22:00", "end": "07:00"})
    pusher = _pusher(engine, config, _paused_yesterday())
    night = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # 00:30 in Berlin

    held = pusher.push(night)
    later = pusher.push(night + timedelta(hours=1))
    morning = pusher.push(datetime(2026, 11, 23, 6, 30, tzinfo=UTC))  # 07:30 in Berlin

    assert held["alerts_held"] >= 1 and held["alerts_sent"] == 0 and later["alerts_sent"] == 0
    assert morning["alerts_sent"] == held["alerts_held"]
    assert len(_posts(slack)) == 1 and len(sink.take()) == 1  # everything from the night in one message


def test_digest_mode_sends_one_message_a_day_at_the_digest_time(engine: Engine, database_url: str,
                                                                slack: FakeSlack, sink: SmtpSink) -> None:
    config = _config(database_url, slack, sink, mode="digest", digest_at="08:00")
    pusher = _pusher(engine, config, _paused_yesterday())
    early = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 06:00 in Berlin

    before = pusher.push(early)
    due = pusher.push(early + timedelta(hours=3))  # 09:00 in Berlin
    after = pusher.push(early + timedelta(hours=30))  # the next day, 12:00: the alerts are raised again

    assert before["alerts_sent"] == 0 and before["alerts_held"] >= 1
    assert due["alerts_sent"] == before["alerts_held"]
    assert after["alerts_sent"] >= 1  # the next day's digest is due (12:00 is after 08:00)
    assert len(_posts(slack)) == 2


def test_no_alert_for_a_drop_our_own_pause_explains(engine: Engine, database_url: str, slack: FakeSlack,
                                                    sink: SmtpSink) -> None:
    ours = KnownChange(start=YESTERDAY, source="agent", entity_id="A", direction="down",
                       description="our own pause of name-A")
    pusher = _pusher(engine, _config(database_url, slack, sink, min_severity="warning"),
                     _paused_yesterday(known_changes=(ours,)))

    counts = pusher.push(MORNING)

    assert counts["alerts_sent"] == 0 and counts["alerts_raised"] == 0
    assert _posts(slack) == [] and sink.take() == []


def test_a_pacing_breach_is_pushed_with_a_link_to_the_pacing_page(engine: Engine, database_url: str,
                                                                   slack: FakeSlack, sink: SmtpSink) -> None:
    overspending = replace(_paused_yesterday(), monthly_budget=Decimal("2000"))  # ~180 a day, all month
    pusher = _pusher(engine, _config(database_url, slack, sink, min_severity="critical"), overspending)

    counts = pusher.push(MORNING)

    assert counts["alerts_sent"] >= 1
    mails = sink.take()
    assert any("over-pacing" in m.message.get_content() and "https://agent.example.com/pacing" in
               m.message.get_content() for m in mails)
