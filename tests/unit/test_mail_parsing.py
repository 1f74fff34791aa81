"""Reading replies as real mail clients write them: Gmail, Outlook, Apple Mail, HTML-only, signatures."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from agent.approvals.mail import new_token, plus_address, subject_tag
from agent.approvals.mail_parsing import (
    ParsedDecision,
    authenticated,
    find_token,
    first_written_line,
    html_to_text,
    is_automatic,
    parse_decision,
    reply_body_text,
)

TOKEN = "k3j_x-9qzt0m4lp2wr8vyn5bcd7hgf6a"
REPLY_ADDRESS = "approvals@agency.example"


def reply(plain: str | None = None, markup: str | None = None, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Alice <alice@client.example>")
    message["To"] = headers.pop("To", plus_address(REPLY_ADDRESS, TOKEN))
    message["Subject"] = headers.pop("Subject", f"Re: {subject_tag(TOKEN)} Approve? pause Shoes")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if plain is not None:
        message.set_content(plain)
        if markup is not None:
            message.add_alternative(markup, subtype="html")
    elif markup is not None:
        message.set_content(markup, subtype="html")
    return message


def decision_of(message: EmailMessage) -> ParsedDecision | None:
    return parse_decision(first_written_line(reply_body_text(message)))


GMAIL = ("approve\r\n\r\nOn Mon, Nov 23, 2026 at 12:00 PM Agent <agent@agency.example> wrote:\r\n"
         "> The paid-media agent proposes a change that needs your approval.\r\n>\r\n>     APPROVE\r\n")
OUTLOOK = ("REJECT budget is frozen until December\r\n\r\nBest regards,\r\nAlice\r\n\r\n"
           "________________________________\r\nFrom: Agent <agent@agency.example>\r\nSent: Monday\r\n"
           "Subject: [pma:x] Approve?\r\n\r\nThe paid-media agent proposes...\r\n    APPROVE\r\n")
APPLE_HTML = ("<html><body><div dir='auto'>Approve.</div><div><br><div>Sent from my iPhone</div>"
              "<div><br><blockquote type='cite'>On 23 Nov 2026, at 12:00, Agent wrote:<br><div>REJECT</div>"
              "</blockquote></div></div></body></html>")
GMAIL_HTML = ("<div dir='ltr'>Reject: too early, wait for <b>Black Friday</b> data</div><br>"
              "<div class='gmail_quote'><div dir='ltr' class='gmail_attr'>On Mon, Agent wrote:<br></div>"
              "<blockquote class='gmail_quote'>APPROVE<p>or REJECT</blockquote></div>")
OUTLOOK_HTML = ("<html><head><style>p{margin:0}</style></head><body><div>\u200bAPPROVE</div>"
                "<div id='appendonsend'></div><hr><div id='divRplyFwdMsg'><b>From:</b> Agent</div>"
                "<div>REJECT</div></body></html>")


@pytest.mark.parametrize(("message", "expected"), [
    (reply(GMAIL), ParsedDecision("approve", "")),
    (reply(OUTLOOK), ParsedDecision("reject", "budget is frozen until December")),
    (reply(markup=APPLE_HTML), ParsedDecision("approve", "")),
    (reply(markup=GMAIL_HTML), ParsedDecision("reject", "too early, wait for Black Friday data")),
    (reply(markup=OUTLOOK_HTML), ParsedDecision("approve", "")),
    (reply("\n\n  Approved!  \n-- \nAlice, Head of Growth\n"), ParsedDecision("approve", "")),
    (reply("*REJECT* - not during the sale\n"), ParsedDecision("reject", "not during the sale")),
    (reply("rejected\n"), ParsedDecision("reject", "")),
    (reply("", markup="<p>reject&nbsp;margins are&nbsp;thin</p>"), ParsedDecision("reject", "margins are thin")),
])
def test_decisions_in_each_clients_style(message: EmailMessage, expected: ParsedDecision) -> None:
    assert decision_of(message) == expected


@pytest.mark.parametrize("body", [
    "> APPROVE\n> REJECT\n",  # quoted text only: the request's own words must never count
    "On Mon, Nov 23, 2026 at 12:00 PM Agent wrote:\n> APPROVE\n",
    "\n\n",
    "approve this? I am not sure\n",
    "yes\n",
    "Sounds good, APPROVE\n",
    "-- \nAlice\nAPPROVE\n",
    "Von: Agent\nAPPROVE\n",
])
def test_anything_else_is_not_a_decision(body: str) -> None:
    assert decision_of(reply(body)) is None


def test_html_only_quote_only_reply_is_not_a_decision() -> None:
    markup = "<div><br></div><div class='gmail_quote'><blockquote>APPROVE</blockquote></div>"
    assert decision_of(reply(markup=markup)) is None


def test_html_to_text_keeps_lines_and_drops_quotes() -> None:
    text = html_to_text("<p>one</p><p>two<br>three</p><blockquote>gone<p>also gone</blockquote><div>four</div>")
    assert [line for line in text.splitlines() if line] == ["one", "two", "three", "four"]


@pytest.mark.parametrize("subject", [
    f"Re: {subject_tag(TOKEN)} Approve? pause Shoes",
    f"AW: RE: Re: {subject_tag(TOKEN)} Approve?",
    f"SV: {subject_tag(TOKEN).upper()} Approve?",  # a client that upper-cases the subject
])
def test_token_from_the_subject_tag(subject: str) -> None:
    assert find_token(reply("APPROVE", To=REPLY_ADDRESS, Subject=subject), REPLY_ADDRESS) == TOKEN


def test_token_from_the_plus_address_even_without_the_tag() -> None:
    message = reply("APPROVE", To=f"Approvals <{plus_address(REPLY_ADDRESS, TOKEN).upper()}>", Subject="Re: hi")
    assert find_token(message, REPLY_ADDRESS) == TOKEN
    assert find_token(reply("APPROVE", To=REPLY_ADDRESS, Subject="Re: hi"), REPLY_ADDRESS) is None


def test_new_tokens_are_unguessable_and_fit_addresses() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert token == token.lower() and len(token) >= 32
        assert find_token(reply("x", To=plus_address(REPLY_ADDRESS, token)), REPLY_ADDRESS) == token


@pytest.mark.parametrize(("headers", "automatic"), [
    ({"Auto_Submitted": "auto-replied"}, True),
    ({"Precedence": "bulk"}, True),
    ({"X_Autoreply": "yes"}, True),
    ({"Auto_Submitted": "no"}, False),
    ({}, False),
])
def test_automatic_mail_is_recognised(headers: dict[str, str], automatic: bool) -> None:
    assert is_automatic(reply("I am out of office", **headers)) is automatic


MX = "mx.agency.example"


@pytest.mark.parametrize(("results", "trusted", "ok"), [
    ([f"{MX}; dkim=pass header.d=client.example header.s=s1; spf=fail"], MX, True),
    ([f"{MX}; dkim=fail header.d=client.example; spf=pass smtp.mailfrom=bounce@client.example"], MX, True),
    ([f"{MX}; dkim=pass (good signature) header.i=@mail.client.example"], MX, False),  # not aligned upwards
    ([f"{MX}; dkim=pass header.d=attacker.example; spf=pass smtp.mailfrom=x@attacker.example"], MX, False),
    ([f"{MX}; dkim=none; spf=softfail smtp.mailfrom=client.example"], MX, False),
    # a header the sender wrote themselves, below our server's: ignored
    ([f"{MX}; dkim=none", f"{MX}.evil; dkim=pass header.d=client.example"], MX, False),
    ([f"{MX}; dkim=none", "fake; dkim=pass header.d=client.example"], MX, False),
    (["fake; dkim=pass header.d=client.example", f"{MX}; dkim=pass header.d=client.example"], MX, False),
    ([f"{MX}; dmarc=pass header.from=client.example"], MX, True),
    ([f"{MX}; dmarc=pass header.from=attacker.example"], MX, False),
    ([f"{MX}; spf=pass smtp.mailfrom=client.example", f"{MX}; dkim=none"], MX, True),
    (["this is not ; an = authentication results header"], MX, False),
    ([f"{MX}; dkim=pass header.d=client.example"], "other.mx.example", False),
    ([], MX, False),
])
def test_authentication_results_must_vouch_for_the_sender(results: list[str], trusted: str, ok: bool) -> None:
    message = reply("APPROVE")
    for header in results:
        message["Authentication-Results"] = header
    assert authenticated(message, trusted) is ok


def test_a_subdomain_sender_is_aligned_with_its_organisation() -> None:
    message = reply("APPROVE", From="alice@eu.client.example")
    message["Authentication-Results"] = f"{MX}; dkim=pass header.d=client.example"
    assert authenticated(message, MX)
