"""A rule's `notify` action through the daemon's cycle: the message reaches Slack (the fake Web API) and
email (the real SMTP sink) once, is recorded in the audit trail, obeys the rule's `max_per_period`, and a
dry run or a rule on `dry_run` sends nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, select

from agent.alerts.rule_notices import send_rule_notices
from agent.approvals.mail import ApprovalMailer
from agent.bootstrap import build_notifier
from agent.cycle.run import run_cycle
from agent.storage.models import Action, AuditEvent
from policies import POLICY_NAMES
from tests.fakes.mail_servers import SmtpSink
from tests.fakes.slack_server import FakeSlack
from tests.integration.conftest import SimWorld, make_world

TOKEN = "xoxb-rule-notices"
NO_POLICIES = {name: {"enabled": False} for name in POLICY_NAMES}
WATCH: dict[str, Any] = {
    "name": "watch-spend", "scope": {"accounts": ["shop-meta"]},
    "when": {"metric": "spend", "window": "yesterday", "op": ">", "value": 0},
    "then": [{"kind": "notify", "message": "spent yesterday"}], "max_per_period": {"count": 1, "period": "week"},
}


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


def _world(engine: Engine, database_url: str, slack: FakeSlack, sink: SmtpSink, rule: dict[str, Any]) -> SimWorld:
    return make_world(engine, database_url, defaults={"policies": NO_POLICIES}, rules=[rule], approvals={
        "slack": {"bot_token": TOKEN, "signing_secret": "s" * 32, "base_url": slack.base_url},
        "email": {"from_address": "agent@example.com", "reply_address": "approvals@example.com",
                  "trusted_authserv_id": "mx.example.com",
                  "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none"},
                  "imap": {"host": "127.0.0.1", "username": "approvals", "password": "x"}},
        "default": {"slack_channel": "C0RULES", "slack_approvers": ["U0APPROVER"],
                    "email_approvers": ["lead@example.com"]},
    })


def _cycle(world: SimWorld, *, dry_run: bool = False) -> None:
    run_cycle(world.engine, world.config, world.connectors, world.clock, dry_run=dry_run,
              notify=build_notifier(world.engine, world.config, world.clock))


def _notices(slack: FakeSlack) -> list[str]:
    return [str(c.params.get("text")) for c in slack.named("chat.postMessage") if "Rule watch-spend" in
            str(c.params.get("text"))]


def test_a_notify_firing_reaches_slack_and_email_once_and_is_audited(engine: Engine, database_url: str,
                                                                     slack: FakeSlack, sink: SmtpSink) -> None:
    world = _world(engine, database_url, slack, sink, WATCH)
    _cycle(world)
    with engine.connect() as connection:
        actions = list(connection.execute(select(Action.__table__).where(Action.policy == "rule:watch-spend")))
        sent = list(connection.execute(select(AuditEvent.__table__).where(AuditEvent.event == "rule_notice_sent")))
    assert actions and {(a.kind, a.state) for a in actions} == {("notify", "reported")}
    posts = _notices(slack)
    assert len(posts) == len(actions) and all("spent yesterday" in p for p in posts)
    assert {a.entity_name for a in actions} == {p.split(" on ", 1)[1].split(" (shop-meta)")[0] for p in posts}
    mails = [m for m in sink.take() if "Rule watch-spend" in str(m.message["Subject"])]
    assert len(mails) == len(actions) and mails[0].rcpt_tos == ["lead@example.com"]
    assert sorted(e.action_id for e in sent) == sorted(a.id for a in actions)
    assert world.simulator.mutation_log() == []  # a notice is not a platform change

    _cycle(world)  # the same hour again: nothing new fired (max_per_period), nothing sent twice
    world.clock.current += timedelta(days=1)
    _cycle(world)
    assert len(_notices(slack)) == len(actions)


def _sent_events(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(AuditEvent.__table__).where(AuditEvent.event == "rule_notice_sent")))


def test_a_failed_slack_send_is_retried_at_the_next_cycle(engine: Engine, database_url: str, slack: FakeSlack,
                                                          sink: SmtpSink) -> None:
    world = _world(engine, database_url, slack, sink, WATCH)
    run_cycle(world.engine, world.config, world.connectors, world.clock)  # fires, sends nothing yet
    assert world.config.approvals.email is not None
    slack_client = WebClient(token=TOKEN, base_url=slack.base_url)
    mailer = ApprovalMailer(engine, world.config.approvals.email)
    slack.fail_next("chat.postMessage", "channel_not_found")
    counts = send_rule_notices(engine, world.config, world.clock.now(), slack=slack_client, mailer=mailer)
    assert counts["rule_notices_failed"] == 1
    with engine.connect() as connection:
        actions = list(connection.execute(select(Action.id).where(Action.policy == "rule:watch-spend")))
    assert len(actions) >= 2
    assert len(_sent_events(engine)) == len(actions) - 1  # the one whose post failed waits
    send_rule_notices(engine, world.config, world.clock.now(), slack=slack_client, mailer=mailer)
    assert sorted(e.action_id for e in _sent_events(engine)) == sorted(a.id for a in actions)


def test_dry_runs_send_no_notice(engine: Engine, database_url: str, slack: FakeSlack, sink: SmtpSink) -> None:
    world = _world(engine, database_url, slack, sink, WATCH)
    _cycle(world, dry_run=True)
    rule_dry = _world(engine, database_url, slack, sink, {**WATCH, "name": "watch-dry", "dry_run": True})
    _cycle(rule_dry)
    with engine.connect() as connection:
        actions = list(connection.execute(select(Action.__table__).where(Action.kind == "notify")))
    assert actions  # both fired and were recorded
    assert [c for c in slack.named("chat.postMessage") if "Rule watch" in str(c.params.get("text"))] == []
    assert [m for m in sink.take() if "Rule watch" in str(m.message["Subject"])] == []
