"""The email reply parser never raises on any mail: whatever arrives in the mailbox is read, or ignored."""

from __future__ import annotations

import email
from email.message import Message
from email.policy import default as default_policy

from hypothesis import example, given
from hypothesis import strategies as st

from agent.approvals.mail_parsing import (
    authenticated,
    find_token,
    first_written_line,
    html_to_text,
    is_automatic,
    parse_decision,
    redact_tokens,
    reply_body_text,
    sender_address,
)
from tests.fuzz.settings import bounded

HEADER_NAMES = ["From", "To", "Cc", "Subject", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
                "Precedence", "Authentication-Results", "Delivered-To", "MIME-Version", "Content-Disposition"]
header_values = st.one_of(
    st.text(max_size=120),
    st.sampled_from(["text/plain; charset=utf-8", "text/html; charset=bogus-8", "multipart/alternative; boundary=b",
                     "multipart/mixed", "base64", "quoted-printable", "Alice <alice@client.example>",
                     "approvals+aaaaaaaaaaaaaaaaaaaaaaaa@agency.example", "Re: [pma:aaaaaaaaaaaaaaaaaaaaaaaa] x",
                     "mx.agency.example; dkim=pass header.d=client.example", "mx.agency.example; ;; ==", "=?utf-8?q?=ff?="]),
)
raw_mails = st.builds(
    lambda headers, body: ("".join(f"{n}: {v}\r\n" for n, v in headers).encode("utf-8", "surrogateescape")
                           + b"\r\n" + body),
    st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values.map(lambda v: v.replace("\n", " "))),
             max_size=8),
    st.one_of(st.binary(max_size=400),
              st.sampled_from([b"--b\r\nContent-Type: text/html\r\n\r\n<p>APPROVE<blockquote>x</blockquote>\r\n--b--",
                               b"=FF=FE APPROVE", b"QVBQUk9WRQ==", b"<hr><div id=appendonsend>"])),
)


def read_everything(message: Message) -> None:
    """Everything the poller asks of a reply before it decides."""
    text = reply_body_text(message)
    parse_decision(first_written_line(text))
    find_token(message, "approvals@agency.example")
    sender_address(message)
    is_automatic(message)
    authenticated(message, "mx.agency.example")
    redact_tokens(str(message.get("Subject", "")))


@bounded
@given(raw_mails)
@example(b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=x\r\n\r\n"
         b"\xff\xfe\r\n--b--")
@example(b"Authentication-Results: \r\nFrom: <>\r\n\r\n")
@example(b"From: <\r\nTo: \"\r\nSubject: =?utf-8?b?####?=\r\n\r\n")  # found by the long run
def test_any_mail_is_read_without_raising(raw: bytes) -> None:
    read_everything(email.message_from_bytes(raw, policy=default_policy))


@bounded
@given(st.text(max_size=400))
def test_any_html_turns_into_text(markup: str) -> None:
    assert isinstance(html_to_text(markup), str)


@bounded
@given(st.lists(st.text(max_size=200), min_size=1, max_size=4), st.text(max_size=60))
def test_any_authentication_results_header_is_evidence_or_not(headers: list[str], sender: str) -> None:
    message = email.message.EmailMessage()
    message["From"] = "alice@client.example"
    for header in headers:
        try:
            message["Authentication-Results"] = header
        except ValueError:  # the email package refuses CR/LF in a header value we set: not mail we can receive
            continue
    assert authenticated(message, "mx.agency.example") in (True, False)
