"""Polling the approval mailbox (IMAP): each reply decides at most once, and every approver hears back.

A message is claimed in the database (mailbox, UIDVALIDITY, UID, and its Message-ID) before it is
acted on, so neither a second poller nor the same reply delivered twice can decide again; it is
then flagged on the server so the next search skips it. The sender must be an approver of the
action's account and vouched for by our own mail server (Authentication-Results, unless the operator
opted out with `insecure_accept_unauthenticated_replies`). Unknown senders
and automatic mail get no answer at all (no backscatter, no mail loops); known approvers always
get one: the outcome, or how to write the reply.
"""

from __future__ import annotations

import email
import logging
import ssl
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import Engine

from agent.approvals import records
from agent.approvals.decisions import decide_action
from agent.approvals.followup import (
    ConnectorsFactory,
    current_action,
    decision_of,
    execute_after_approval,
    headline,
    outcome_text,
)
from agent.approvals.mail import HOW_TO_ANSWER, ApprovalMailer
from agent.approvals.mail_parsing import (
    authenticated,
    find_token,
    first_written_line,
    header_text,
    header_values,
    is_automatic,
    parse_decision,
    redact_tokens,
    reply_body_text,
    sender_address,
)
from agent.approvals.settings import ApprovalSettings, ImapSettings
from agent.clock import Clock
from agent.config import AgentConfig
from agent.storage import audit_trail
from agent.storage.action_states import as_utc

log = logging.getLogger(__name__)
PROCESSED_KEYWORD = "PmaProcessed"  # an IMAP keyword, so humans reading the mailbox do not hide replies


def connect_imap(settings: ImapSettings, ssl_context: ssl.SSLContext | None = None) -> IMAPClient:
    context = ssl_context or ssl.create_default_context()
    client = IMAPClient(settings.host, port=settings.port, ssl=settings.security == "ssl", ssl_context=context,
                        timeout=settings.timeout_seconds)
    if settings.security == "starttls":
        client.starttls(context)
    client.login(settings.username, settings.password.get_secret_value())
    return client


class ReplyPoller:
    """Reads new replies, decides through `decide_action`, executes approvals, answers the approver."""

    def __init__(self, engine: Engine, config: AgentConfig, clock: Clock, settings: ApprovalSettings,
                 mailer: ApprovalMailer, connectors_factory: ConnectorsFactory,
                 imap_factory: Callable[[], IMAPClient] | None = None) -> None:
        if settings.email is None:
            raise ValueError("approvals.email is not configured")
        self.engine, self.config, self.clock, self.settings = engine, config, clock, settings
        self.email = settings.email
        self.mailer = mailer
        self.connectors_factory = connectors_factory
        self.imap_factory = imap_factory or (lambda: connect_imap(self.email.imap))
        imap = self.email.imap
        self.mailbox = f"{imap.username}@{imap.host}:{imap.port}/{imap.folder}"

    def poll(self) -> Counter[str]:
        """Process every reply not processed yet; returns counts by outcome."""
        outcomes: Counter[str] = Counter()
        client = self.imap_factory()
        try:
            selected = client.select_folder(self.email.imap.folder)
            uid_validity = int(selected[b"UIDVALIDITY"])
            uids = client.search(["UNKEYWORD", PROCESSED_KEYWORD])
            with self.engine.connect() as connection:
                done = records.processed_uids(connection, self.mailbox, uid_validity)
            fresh = [uid for uid in uids if uid not in done]
            for uid, data in client.fetch(fresh, ["BODY.PEEK[]"]).items() if fresh else []:
                message = email.message_from_bytes(data[b"BODY[]"], policy=default_policy)
                outcomes[self.process(message, uid_validity, int(uid))] += 1
            if uids:  # flag after processing: a crash in between is caught by the database claim
                client.add_flags(uids, [PROCESSED_KEYWORD, b"\\Seen"])
        finally:
            try:
                client.logout()
            except Exception:  # the connection may already be gone; nothing to clean up then
                log.debug("IMAP logout failed", exc_info=True)
        return outcomes

    def process(self, message: Message, uid_validity: int, uid: int) -> str:
        """Handle one reply; returns its outcome (kept in approval_email_replies)."""
        now = self.clock.now()
        sender = sender_address(message)
        message_id = header_text(message, "Message-ID").strip() or None
        reply_id = records.claim_reply(self.engine, mailbox=self.mailbox, uid_validity=uid_validity, uid=uid,
                                       message_id=message_id, sender=sender, now=now)
        if reply_id is None:
            return "duplicate"
        outcome, detail, action_id = self._decide(message, sender, message_id, uid_validity, uid, now)
        records.finish_reply(self.engine, reply_id, outcome=outcome, detail=detail, action_id=action_id)
        return outcome

    def _decide(self, message: Message, sender: str, message_id: str | None, uid_validity: int, uid: int,
                now: datetime) -> tuple[str, str, int | None]:
        if is_automatic(message) or sender == self.email.from_address:
            return "ignored", "automatic message", None
        if not self.settings.is_email_approver(sender):
            self._refused(sender, None, None, "not an approver of any account", now)
            return "refused_sender", f"{sender} is not an approver", None
        token = find_token(message, self.email.reply_address)
        with self.engine.connect() as connection:
            request = records.email_request_for_token(connection, token) if token else None
        if request is None:
            self._answer(message, sender, None, now, "Nothing was changed: this reply does not match any approval "
                         "request (the token in the subject or the reply address is missing or unknown). Please "
                         "reply to the request email itself.")
            return "unknown_token", "no request matches", None
        action_id, account_id = int(request["action_id"]), str(request["account_id"])
        route = self.settings.for_account(account_id)
        if route is None or sender not in route.email_approvers:
            self._refused(sender, action_id, account_id, f"not an approver of account {account_id}", now)
            self._answer(message, sender, request, now, f"Nothing was changed: {sender} may not decide actions of "
                         f"account {account_id}.")
            return "refused_sender", f"not an approver of {account_id}", action_id
        if not self._authentic(message):
            self._refused(sender, action_id, account_id, "no dkim, spf or dmarc=pass for the sender's domain from "
                          "our mail server", now)
            return "unauthenticated", "Authentication-Results do not vouch for the sender", action_id
        if request["used_at"] is not None:
            return self._spent(message, sender, request, action_id, now)
        if as_utc(request["expires_at"]) < now:
            self._answer(message, sender, request, now, f"Nothing was changed: the approval request for action "
                         f"#{action_id} expired at {as_utc(request['expires_at']):%Y-%m-%d %H:%M} UTC.")
            return "expired", "request expired", action_id
        line = first_written_line(reply_body_text(message))
        decision = parse_decision(line)
        if decision is None:
            seen = f"The first line of your reply was: {line!r}." if line else "Your reply had no text of its own " \
                   "above the quoted message."
            self._answer(message, sender, request, now, f"Nothing was changed: your reply could not be read as a "
                         f"decision. {seen}\n\n{HOW_TO_ANSWER}", keep_token=True)
            return "unparseable", line or "", action_id
        # the subject carries the token: only a redacted copy is kept (the audit trail is exported)
        reference = {"message_id": message_id, "in_reply_to": header_text(message, "In-Reply-To") or None,
                     "mailbox": self.mailbox, "uid_validity": uid_validity, "uid": uid,
                     "subject": redact_tokens(header_text(message, "Subject"))[:300],
                     "first_line": redact_tokens(line or "")[:300],
                     "authentication_results": [h[:500] for h in header_values(message, "Authentication-Results")]}
        with self.engine.begin() as connection:  # spent before deciding: two racing replies decide once
            fresh = records.spend_email_request(connection, int(request["id"]), now)
        if not fresh:
            return self._spent(message, sender, request, action_id, now)
        result = decide_action(self.engine, action_id, decision.verdict, approver=sender, channel="email", now=now,
                               reason=decision.reason or "", reference=reference)
        if not result.ok:
            self._answer(message, sender, request, now, f"Nothing was changed: {result.message}.")
            return "not_decided", result.message, action_id
        if decision.verdict == "approve":
            try:
                execute_after_approval(self.engine, self.config, self.clock, action_id, self.connectors_factory,
                                       worker="email")
            except Exception:  # approved stays approved; the next cycle executes it
                log.exception("executing action %s after an email approval failed", action_id)
        action = current_action(self.engine, action_id)
        text = (f"{headline(action)}\n\n{outcome_text(action, decision_of(self.engine, action_id))}"
                if action is not None else result.message)
        self._answer(message, sender, request, now, text)
        return "approved" if decision.verdict == "approve" else "rejected", result.message, action_id

    def _spent(self, message: Message, sender: str, request: Any, action_id: int,
               now: datetime) -> tuple[str, str, int | None]:
        """A reply with a token that already decided: it decides nothing more."""
        action = current_action(self.engine, action_id)
        state = f" (action #{action_id} is {action['state']})" if action is not None else ""
        self._answer(message, sender, request, now, f"Nothing was changed: this approval request was already "
                     f"answered{state}; each request decides once.")
        return "spent_token", "the request's token was already used", action_id

    def _authentic(self, message: Message) -> bool:
        if self.email.insecure_accept_unauthenticated_replies:
            return True
        return self.email.trusted_authserv_id is not None and authenticated(message, self.email.trusted_authserv_id)

    def _answer(self, message: Message, sender: str, request: Any, now: datetime, text: str,
                keep_token: bool = False) -> None:
        """Reply to the approver in the same thread; a failure to send never undoes a decision."""
        # their own subject: it carries the [pma:...] tag, which the database keeps only hashed
        subject = header_text(message, "Subject") or (str(request["subject"]) if request is not None else "your reply")
        try:
            self.mailer.send_answer(sender, subject, text, now, in_reply_to=header_text(message, "Message-ID") or None,
                                    references=header_text(message, "References") or None,
                                    reply_token=self._token_in(message) if keep_token else None)
        except Exception as error:  # SMTP down or refusing: the decision stands, only the answer is lost
            log.warning("could not answer %s: %s", sender, error)

    def _token_in(self, message: Message) -> str | None:
        return find_token(message, self.email.reply_address)

    def _refused(self, sender: str, action_id: int | None, account_id: str | None, why: str, now: datetime) -> None:
        with self.engine.begin() as connection:
            audit_trail.record_event(connection, at=now, event="approval_refused", actor=f"email:{sender}"[:128],
                                     message=f"email reply from {sender} refused: {why}", action_id=action_id,
                                     account_id=account_id, data={"channel": "email", "sender": sender})
