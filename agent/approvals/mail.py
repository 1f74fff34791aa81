"""Approval requests by email: one message per action, answered by replying `APPROVE` or `REJECT <reason>`.

Each request carries a fresh unguessable token (`secrets.token_urlsafe`) twice: in the Reply-To
plus-address (`approvals+TOKEN@example.com`) and in the subject tag (`[pma:TOKEN]`), so a reply is
matched whichever of the two the approver's mail client keeps. Only the token's SHA-256 is stored.
A token is lower-cased because some mail systems fold the case of the address's local part.

Email is deliberately one action per message (even in digest mode): a one-word reply must never
decide several changes at once.
"""

from __future__ import annotations

import html
import secrets
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import Engine

from agent.approvals import records
from agent.approvals.followup import ActionRow, describe_change, headline
from agent.approvals.settings import EmailSettings
from agent.storage.action_states import as_utc

TOKEN_BYTES = 24
DEFAULT_TTL = timedelta(hours=24)
HOW_TO_ANSWER = ("Reply to this email with your decision on the FIRST line:\n"
                 "    APPROVE\n"
                 "or\n"
                 "    REJECT <your reason>\n"
                 "Only the first line of your reply is read; quoted text and signatures below it are ignored. "
                 "Replies are accepted only from this account's approvers.")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES).lower()


def plus_address(address: str, token: str) -> str:
    """`approvals@example.com` + token -> `approvals+token@example.com`."""
    local, domain = address.split("@", 1)
    return f"{local}+{token}@{domain}"


def subject_tag(token: str) -> str:
    return f"[pma:{token}]"


def request_text(action: ActionRow, expires_at: datetime) -> str:
    """The proposal in words, and how to answer."""
    evidence = action["evidence"] or {}
    lines = [
        "The paid-media agent proposes a change that needs your approval.",
        "",
        f"Action:    {headline(action)}",
        f"Change:    {describe_change(action)}",
        f"Why:       {action['rationale']}",
        f"Policy:    {action['policy']}",
    ]
    if evidence:
        lines.append("Evidence:  " + ", ".join(f"{k}={v}" for k, v in list(evidence.items())[:8]))
    lines += [f"Decide by: {as_utc(expires_at):%Y-%m-%d %H:%M} UTC (after that nothing is changed)", "",
              HOW_TO_ANSWER, "",
              "If approved, the change is executed after a fresh check of the live state and of the guardrails; "
              "you will get a reply saying what happened."]
    return "\n".join(lines)


def request_html(action: ActionRow, expires_at: datetime) -> str:
    rows = [("Action", headline(action)), ("Change", describe_change(action)), ("Why", str(action["rationale"])),
            ("Policy", str(action["policy"])),
            ("Decide by", f"{as_utc(expires_at):%Y-%m-%d %H:%M} UTC")]
    table = "".join(f"<tr><th align='left' valign='top'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                    for k, v in rows)
    return (f"<html><body><p>The paid-media agent proposes a change that needs your approval.</p>"
            f"<table cellpadding='4'>{table}</table>"
            f"<p>Reply with your decision on the <b>first line</b>: <code>APPROVE</code> or "
            f"<code>REJECT &lt;your reason&gt;</code>. Quoted text and signatures are ignored; replies are "
            f"accepted only from this account's approvers.</p></body></html>")


class ApprovalMailer:
    """Sends approval requests and answers over SMTP (STARTTLS, SSL or, for a local relay, plain)."""

    def __init__(self, engine: Engine, settings: EmailSettings, ssl_context: ssl.SSLContext | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.ssl_context = ssl_context or ssl.create_default_context()

    @property
    def domain(self) -> str:
        return self.settings.from_address.split("@", 1)[1]

    def send_request(self, action: ActionRow, recipients: Sequence[str], now: datetime) -> str:
        """Email one pending action to its approvers; returns the token (kept only hashed)."""
        token = new_token()
        expires_at = as_utc(action["expires_at"]) if action["expires_at"] is not None else now + DEFAULT_TTL
        title = f"Approve? {action['kind']} {action['entity_name']} ({action['account_id']}, #{action['id']})"
        subject = f"{subject_tag(token)} {title}"
        message = EmailMessage()
        message["From"] = self.settings.from_address
        message["To"] = ", ".join(recipients)
        message["Reply-To"] = plus_address(self.settings.reply_address, token)
        message["Subject"] = subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(idstring=f"pma.action.{action['id']}", domain=self.domain)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(request_text(action, expires_at))
        message.add_alternative(request_html(action, expires_at), subtype="html")
        self.send(message)
        with self.engine.begin() as connection:
            records.record_email_request(connection, action_id=int(action["id"]), account_id=str(action["account_id"]),
                                         token=token, message_id=str(message["Message-ID"]), subject=title,
                                         recipients=recipients, now=now, expires_at=expires_at)
        return token

    def send_answer(self, to: str, subject: str, text: str, now: datetime, *, in_reply_to: str | None = None,
                    references: str | None = None, reply_token: str | None = None) -> None:
        """Tell an approver what became of their reply (threaded under it)."""
        message = EmailMessage()
        message["From"] = self.settings.from_address
        message["To"] = to
        if reply_token:  # they can answer again, in the right format, to the same request
            message["Reply-To"] = plus_address(self.settings.reply_address, reply_token)
        message["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(idstring="pma.answer", domain=self.domain)
        if in_reply_to:
            message["In-Reply-To"] = in_reply_to
            message["References"] = f"{references} {in_reply_to}".strip() if references else in_reply_to
        message["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer this
        message.set_content(text)
        self.send(message)

    def send(self, message: EmailMessage) -> None:
        smtp = self.settings.smtp
        client: smtplib.SMTP
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=self.ssl_context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=self.ssl_context)
            if smtp.username:
                client.login(smtp.username, smtp.password.get_secret_value())
            client.send_message(message)
