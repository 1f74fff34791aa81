"""Email approvals end to end: request by SMTP, reply through a real IMAP server, decision, execution, answer.

The agent's SMTP goes to an aiosmtpd sink; replies are delivered into a throw-away dovecot mailbox
and read back with imapclient, as in production. Database: SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine, select

from agent.approvals import records
from agent.approvals.mail import ApprovalMailer
from agent.approvals.mail_replies import PROCESSED_KEYWORD, ReplyPoller
from agent.approvals.notify import notify_pending
from agent.approvals.settings import (
    AccountApprovals,
    ApprovalSettings,
    EmailSettings,
    ImapSettings,
    SmtpSettings,
)
from agent.cli import main
from agent.storage import flags
from agent.storage.action_states import expire_stale, get_action
from agent.storage.models import AuditEvent
from tests.fakes.mail_servers import MailServerUnavailable, SmtpSink, ThrowawayDovecot
from tests.integration.conftest import SimWorld, make_world, pause_proposal, small_config

ALICE, BOB, MALLORY = "alice@client.example", "bob@other.example", "mallory@evil.example"
MX = "mx.agency.example"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[ThrowawayDovecot]:
    try:
        server = ThrowawayDovecot.start()
    except MailServerUnavailable as error:
        pytest.fail(f"the email tests need an IMAP server: {error}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@dataclass
class MailRig:
    world: SimWorld
    settings: ApprovalSettings
    sink: SmtpSink
    imap: ThrowawayDovecot
    mailer: ApprovalMailer

    def poller(self, **email_overrides: Any) -> ReplyPoller:
        settings = self.settings
        if email_overrides:
            assert settings.email is not None
            settings = settings.model_copy(update={"email": settings.email.model_copy(update=email_overrides)})
        return ReplyPoller(self.world.engine, self.world.config, self.world.clock, settings, self.mailer,
                           connectors_factory=lambda: self.world.connectors)

    def poll(self, **email_overrides: Any) -> dict[str, int]:
        return dict(self.poller(**email_overrides).poll())

    def request(self, account_id: str = "shop-meta", index: int = 0) -> tuple[int, EmailMessage]:
        """Queue a pending pause, let notify email it; returns the action id and the request."""
        action_id = self.world.queue(pause_proposal(self.world.active_ad_sets(account_id)[index]),
                                     state="pending_approval")
        notify_pending(self.world.engine, self.world.config, self.world.clock, settings=self.settings,
                       mailer=self.mailer)
        [sent] = self.sink.take()
        return action_id, sent.message

    def state(self, action_id: int) -> str:
        with self.world.engine.connect() as connection:
            action = get_action(connection, action_id)
        assert action is not None
        return str(action["state"])

    def answers(self) -> list[EmailMessage]:
        return [d.message for d in self.sink.take()]


def reply_to(request: EmailMessage, plain: str | None, *, sender: str = ALICE, markup: str | None = None,
             subject_prefix: str = "Re: ", signed_by_mx: bool = True, **headers: str) -> EmailMessage:
    """An approver's reply as a mail client writes it: To the Reply-To, threaded, quoting the request;
    with `signed_by_mx`, as our MX delivers it (its Authentication-Results on top, DKIM passed)."""
    message = EmailMessage()
    if signed_by_mx:
        message["Authentication-Results"] = f"{MX}; dkim=pass header.d={sender.split('@')[1]} header.s=s1"
    message["From"] = f"Someone <{sender}>"
    message["To"] = str(request["Reply-To"])
    message["Subject"] = subject_prefix + str(request["Subject"])
    message["Date"] = format_datetime(request["Date"].datetime)
    message["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    message["In-Reply-To"] = str(request["Message-ID"])
    message["References"] = str(request["Message-ID"])
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if plain is not None:
        message.set_content(plain)
    if markup is not None:
        if plain is None:
            message.set_content(markup, subtype="html")
        else:
            message.add_alternative(markup, subtype="html")
    return message


@pytest.fixture
def rig(engine: Engine, database_url: str, dovecot: ThrowawayDovecot, smtp_sink: SmtpSink) -> MailRig:
    records.create_tables(engine)
    dovecot.empty()
    smtp_sink.take()
    world = make_world(engine, database_url)
    settings = ApprovalSettings(
        email=EmailSettings(
            from_address="agent@agency.example", reply_address="approvals@agency.example",
            smtp=SmtpSettings(host="127.0.0.1", port=smtp_sink.port, security="none"),
            imap=ImapSettings(host="127.0.0.1", port=dovecot.port, security="none", username=dovecot.username,
                              password=dovecot.password),  # type: ignore[arg-type]
            trusted_authserv_id=MX),
        accounts={"shop-meta": AccountApprovals(email_approvers=(ALICE,)),
                  "shop-search": AccountApprovals(email_approvers=(BOB,))})
    assert settings.email is not None
    return MailRig(world, settings, smtp_sink, dovecot, ApprovalMailer(engine, settings.email))


def decision_events(engine: Engine, action_id: int) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(AuditEvent.__table__).where(
            AuditEvent.action_id == action_id, AuditEvent.event.in_(["state:approved", "state:rejected"]))).all())


def refusals(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(AuditEvent.__table__).where(
            AuditEvent.event == "approval_refused")).all())


def test_approve_by_reply_executes_and_answers_in_the_thread(rig: MailRig) -> None:
    ad_set = rig.world.active_ad_sets("shop-meta")[0]
    action_id, request = rig.request()
    assert str(request["To"]) == ALICE
    token = str(request["Reply-To"]).split("+", 1)[1].split("@", 1)[0]
    assert f"[pma:{token}]" in str(request["Subject"])
    assert {p.get_content_type() for p in request.walk()} >= {"text/plain", "text/html"}
    assert "APPROVE" in request.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with rig.world.engine.connect() as connection:
        stored = [dict(r) for r in connection.execute(select(records.EMAIL_REQUESTS)).mappings()]
    assert token not in repr(stored) and stored[0]["token_hash"] == records.token_hash(token)

    reply = reply_to(request, "Approve\n\nOn Mon, Agent wrote:\n> REJECT\n")
    rig.imap.deliver(reply)
    assert rig.poll() == {"approved": 1}
    assert rig.state(action_id) == "executed"
    assert rig.world.live("shop-meta")[ad_set.entity_id].status == "PAUSED"
    [event] = decision_events(rig.world.engine, action_id)
    assert event.actor == f"email:{ALICE}" and event.data["channel"] == "email" and event.data["approver"] == ALICE
    assert event.data["reference"]["message_id"] == str(reply["Message-ID"]) and event.data["reference"]["uid"]
    [answer] = rig.answers()
    assert str(answer["To"]) == ALICE and str(answer["In-Reply-To"]) == str(reply["Message-ID"])
    assert "Executed" in answer.get_content() and str(answer["Auto-Submitted"]) == "auto-replied"
    assert all(PROCESSED_KEYWORD.encode() in flags for flags in rig.imap.flags().values())
    assert rig.poll() == {}  # nothing is processed twice


def test_reject_with_a_reason(rig: MailRig) -> None:
    action_id, request = rig.request()
    outlook = ("REJECT wait until the sale is over\r\n\r\nAlice\r\n________________________________\r\n"
               "From: Agent\r\nSent: Monday\r\n\r\nAPPROVE\r\n")
    rig.imap.deliver(reply_to(request, outlook, subject_prefix="AW: "))
    assert rig.poll() == {"rejected": 1}
    with rig.world.engine.connect() as connection:
        action = get_action(connection, action_id)
    assert action is not None and action["state"] == "rejected"
    assert action["decision_reason"] == "wait until the sale is over"
    assert rig.world.simulator.mutation_log() == []
    [event] = decision_events(rig.world.engine, action_id)
    assert event.data["approver"] == ALICE and event.data["reference"]["first_line"].startswith("REJECT")
    [answer] = rig.answers()
    assert "wait until the sale is over" in answer.get_content()


@pytest.mark.parametrize("sender", [MALLORY, BOB])  # a stranger; an approver of another account
def test_replies_from_non_approvers_change_nothing(rig: MailRig, sender: str) -> None:
    action_id, request = rig.request()
    rig.imap.deliver(reply_to(request, "APPROVE", sender=sender))
    assert rig.poll() == {"refused_sender": 1}
    assert rig.state(action_id) == "pending_approval"
    assert [r.actor for r in refusals(rig.world.engine)] == [f"email:{sender}"]
    answers = rig.answers()
    assert answers == [] if sender == MALLORY else [str(a["To"]) for a in answers] == [BOB]


def test_a_forged_from_without_authentication_results_does_not_approve(rig: MailRig) -> None:
    action_id, request = rig.request()
    rig.imap.deliver(reply_to(request, "APPROVE", signed_by_mx=False))  # default settings: no opt-out
    assert rig.poll() == {"unauthenticated": 1}
    assert rig.state(action_id) == "pending_approval" and rig.answers() == []
    assert rig.world.simulator.mutation_log() == []
    [refusal] = refusals(rig.world.engine)
    assert "dkim" in refusal.message


def test_forged_authentication_results_below_our_servers_are_not_believed(rig: MailRig) -> None:
    action_id, request = rig.request()
    # the forger writes Authentication-Results of their own; ours (the topmost) says none
    forged = reply_to(request, "APPROVE", signed_by_mx=False)
    forged["Authentication-Results"] = f"{MX}; dkim=none; spf=fail smtp.mailfrom=evil.example"
    forged["Authentication-Results"] = "fake.example; dkim=pass header.d=client.example"
    forged["Authentication-Results"] = f"{MX}; dkim=pass header.d=client.example"
    rig.imap.deliver(forged)
    assert rig.poll() == {"unauthenticated": 1}
    assert rig.state(action_id) == "pending_approval" and rig.answers() == []
    rig.imap.deliver(reply_to(request, "APPROVE"))
    assert rig.poll() == {"approved": 1}
    assert rig.state(action_id) == "executed"


def test_the_explicit_opt_out_accepts_replies_without_authentication_results(rig: MailRig) -> None:
    action_id, request = rig.request()
    rig.imap.deliver(reply_to(request, "APPROVE", signed_by_mx=False))
    assert rig.poll(insecure_accept_unauthenticated_replies=True) == {"approved": 1}
    assert rig.state(action_id) == "executed"


@pytest.mark.parametrize("where", ["wrong_token", "no_token"])
def test_an_unknown_token_changes_nothing_and_is_explained(rig: MailRig, where: str) -> None:
    action_id, request = rig.request()
    reply = reply_to(request, "APPROVE")
    del reply["To"], reply["Subject"]
    reply["To"] = ("approvals+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@agency.example" if where == "wrong_token"
                   else "approvals@agency.example")
    reply["Subject"] = "Re: Approve? pause" if where == "no_token" else "Re: [pma:bbbbbbbbbbbbbbbbbbbbbbbb] x"
    rig.imap.deliver(reply)
    assert rig.poll() == {"unknown_token": 1}
    assert rig.state(action_id) == "pending_approval"
    [answer] = rig.answers()
    assert "does not match any approval request" in answer.get_content()


def test_a_reply_after_the_request_expired_changes_nothing(rig: MailRig) -> None:
    action_id, request = rig.request()
    rig.world.clock.advance(timedelta(hours=25))
    with rig.world.engine.begin() as connection:  # the cycle expires it first
        expire_stale(connection, rig.world.clock.now())
    rig.imap.deliver(reply_to(request, "APPROVE"))
    assert rig.poll() == {"expired": 1}
    assert rig.state(action_id) == "expired" and rig.world.simulator.mutation_log() == []
    [answer] = rig.answers()
    assert "expired" in answer.get_content()


def test_a_reply_to_an_expired_but_not_yet_swept_action_changes_nothing(rig: MailRig) -> None:
    action_id, request = rig.request()
    rig.world.clock.advance(timedelta(hours=25))
    rig.imap.deliver(reply_to(request, "APPROVE"))
    assert rig.poll() == {"expired": 1}
    assert rig.state(action_id) == "pending_approval"  # the next cycle's expiry sweep moves it
    assert rig.world.simulator.mutation_log() == []


def test_duplicate_replies_decide_once(rig: MailRig) -> None:
    action_id, request = rig.request()
    reply = reply_to(request, "APPROVE")
    rig.imap.deliver(reply)
    rig.imap.deliver(reply)  # the same message delivered twice (same Message-ID)
    assert rig.poll() == {"approved": 1, "duplicate": 1}
    rig.imap.deliver(reply_to(request, "approve"))  # the approver answers again
    assert rig.poll() == {"spent_token": 1}
    assert len(decision_events(rig.world.engine, action_id)) == 1
    assert len(rig.world.simulator.mutation_log()) == 1
    answers = rig.answers()
    assert len(answers) == 2 and "already answered (action #" in answers[1].get_content()
    assert "is executed" in answers[1].get_content()


def test_a_spent_token_cannot_reject_an_approved_action_waiting_to_execute(rig: MailRig) -> None:
    action_id, request = rig.request()
    with rig.world.engine.begin() as connection:  # execution waits (kill switch): approved, not executed
        flags.set_flag(connection, flags.KILL_SWITCH, True, "test", rig.world.clock.now())
    rig.imap.deliver(reply_to(request, "APPROVE"))
    assert rig.poll() == {"approved": 1}
    assert rig.state(action_id) == "approved"
    rig.imap.deliver(reply_to(request, "REJECT changed my mind"))  # same token, a second decision
    assert rig.poll() == {"spent_token": 1}
    assert rig.state(action_id) == "approved"
    assert [e.event for e in decision_events(rig.world.engine, action_id)] == ["state:approved"]


def test_no_reply_token_in_the_audit_export(rig: MailRig, database_url: str, tmp_path: Path) -> None:
    action_id, request = rig.request()
    token = str(request["Reply-To"]).split("+", 1)[1].split("@", 1)[0]
    rig.imap.deliver(reply_to(request, "REJECT not now"))
    assert rig.poll() == {"rejected": 1}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(small_config(database_url)))
    result = CliRunner().invoke(main, ["audit", "export", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert token not in result.output.lower()
    [decision] = [json.loads(line) for line in result.output.splitlines()
                  if json.loads(line)["event"] == "state:rejected"]
    assert decision["data"]["reference"]["subject"].startswith("Re: [pma:redacted] Approve? pause")


def test_a_quoted_text_only_reply_is_explained_and_can_be_corrected(rig: MailRig) -> None:
    action_id, request = rig.request()
    body = request.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    quoted = "On Mon, Agent wrote:\n" + "\n".join(f"> {line}" for line in body.splitlines())
    rig.imap.deliver(reply_to(request, quoted))
    assert rig.poll() == {"unparseable": 1}
    assert rig.state(action_id) == "pending_approval"
    [answer] = rig.answers()
    assert "could not be read as a decision" in answer.get_content() and "REJECT <your reason>" in answer.get_content()
    assert str(answer["Reply-To"]) == str(request["Reply-To"])  # answering the explanation still works
    rig.imap.deliver(reply_to(answer, "APPROVE", subject_prefix=""))
    assert rig.poll() == {"approved": 1}
    assert rig.state(action_id) == "executed"


def test_an_html_only_reply_is_read(rig: MailRig) -> None:
    action_id, request = rig.request()
    markup = ("<div dir='ltr'>APPROVE</div><div class='gmail_quote'><blockquote class='gmail_quote'>"
              "REJECT</blockquote></div>")
    rig.imap.deliver(reply_to(request, None, markup=markup))
    assert rig.poll() == {"approved": 1}
    assert rig.state(action_id) == "executed"


def test_out_of_office_replies_are_ignored_silently(rig: MailRig) -> None:
    action_id, request = rig.request()
    rig.imap.deliver(reply_to(request, "I am away until Monday.", Auto_Submitted="auto-replied"))
    assert rig.poll() == {"ignored": 1}
    assert rig.state(action_id) == "pending_approval" and rig.answers() == []


def test_each_pending_action_is_emailed_once(rig: MailRig) -> None:
    rig.request()
    assert notify_pending(rig.world.engine, rig.world.config, rig.world.clock, settings=rig.settings,
                          mailer=rig.mailer)["emails"] == 0
    assert rig.sink.take() == []
