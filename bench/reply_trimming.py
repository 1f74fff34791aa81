"""Reply trimming: our parser (agent/approvals/mail_parsing.py) against mail-parser-reply, on our corpus.

    pip install mail-parser-reply   # not a dependency: only needed to re-run this comparison
    python -m bench.reply_trimming

The corpus is every reply of tests/unit/test_mail_parsing.py and tests/integration/test_email_approvals.py,
each with the decision a person reading it would take (None: no decision). Both pipelines end in the
same `parse_decision` of the first line they keep; they differ in how they find the approver's own
words. mail-parser-reply reads text only, so an HTML-only reply is given to it as plain text with
every element's text kept (it has no notion of blockquote or gmail_quote).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the repository, not bench/ (bench/requests.py would shadow requests)

from agent.approvals.mail_parsing import (  # noqa: E402
    BLOCK_TAGS,
    ParsedDecision,
    first_written_line,
    parse_decision,
    reply_body_text,
)
from tests.unit.test_mail_parsing import APPLE_HTML, GMAIL, GMAIL_HTML, OUTLOOK, OUTLOOK_HTML, reply  # noqa: E402

REQUEST_QUOTE = "On Mon, Agent wrote:\n" + "\n".join(
    f"> {line}" for line in ["The paid-media agent proposes a change that needs your approval.", "", "    APPROVE",
                             "or", "    REJECT <your reason>"])
CORPUS: list[tuple[str, EmailMessage, ParsedDecision | None]] = [
    ("gmail plain", reply(GMAIL), ParsedDecision("approve", "")),
    ("outlook plain", reply(OUTLOOK), ParsedDecision("reject", "budget is frozen until December")),
    ("apple html", reply(markup=APPLE_HTML), ParsedDecision("approve", "")),
    ("gmail html", reply(markup=GMAIL_HTML), ParsedDecision("reject", "too early, wait for Black Friday data")),
    ("outlook html", reply(markup=OUTLOOK_HTML), ParsedDecision("approve", "")),
    ("signature", reply("\n\n  Approved!  \n-- \nAlice, Head of Growth\n"), ParsedDecision("approve", "")),
    ("markdown", reply("*REJECT* - not during the sale\n"), ParsedDecision("reject", "not during the sale")),
    ("bare rejected", reply("rejected\n"), ParsedDecision("reject", "")),
    ("nbsp html", reply("", markup="<p>reject&nbsp;margins are&nbsp;thin</p>"),
     ParsedDecision("reject", "margins are thin")),
    ("quote only", reply("> APPROVE\n> REJECT\n"), None),
    ("header and quote only", reply("On Mon, Nov 23, 2026 at 12:00 PM Agent wrote:\n> APPROVE\n"), None),
    ("empty", reply("\n\n"), None),
    ("question", reply("approve this? I am not sure\n"), None),
    ("yes", reply("yes\n"), None),
    ("approve in a sentence", reply("Sounds good, APPROVE\n"), None),
    ("signature first", reply("-- \nAlice\nAPPROVE\n"), None),
    ("german header first", reply("Von: Agent\nAPPROVE\n"), None),
    ("html quote only", reply(markup="<div><br></div><div class='gmail_quote'><blockquote>APPROVE</blockquote></div>"),
     None),
    ("integration: approve above quote", reply("Approve\n\nOn Mon, Agent wrote:\n> REJECT\n"),
     ParsedDecision("approve", "")),
    ("integration: outlook AW", reply("REJECT wait until the sale is over\r\n\r\nAlice\r\n"
                                      "________________________________\r\nFrom: Agent\r\nSent: Monday\r\n\r\n"
                                      "APPROVE\r\n"), ParsedDecision("reject", "wait until the sale is over")),
    ("integration: request quoted, nothing written", reply(REQUEST_QUOTE), None),
    ("integration: gmail html", reply(markup="<div dir='ltr'>APPROVE</div><div class='gmail_quote'>"
                                             "<blockquote class='gmail_quote'>REJECT</blockquote></div>"),
     ParsedDecision("approve", "")),
]


class _AllText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def ours(message: EmailMessage) -> ParsedDecision | None:
    return parse_decision(first_written_line(reply_body_text(message)))


def theirs(message: EmailMessage) -> ParsedDecision | None:
    from mailparser_reply import EmailReplyParser  # optional: see the module docstring

    plain = message.get_body(("plain",))
    if plain is not None and str(plain.get_content()).strip():
        text = str(plain.get_content())
    else:
        markup = message.get_body(("html",))
        parser = _AllText()
        parser.feed(str(markup.get_content()) if markup is not None else "")
        text = "".join(parser.parts)
    kept = EmailReplyParser(languages=["en", "de", "fr"]).parse_reply(text=text) or ""
    kept = kept.replace("\xa0", " ")  # the same normalisation ours does, so only the trimming differs
    line = next((line.strip() for line in kept.splitlines() if line.strip()), None)
    return parse_decision(line)


def score(reader: Callable[[EmailMessage], ParsedDecision | None]) -> tuple[int, list[str]]:
    wrong = [name for name, message, expected in CORPUS if reader(message) != expected]
    return len(CORPUS) - len(wrong), wrong


if __name__ == "__main__":
    readers: list[tuple[str, Callable[[EmailMessage], ParsedDecision | None]]] = [("ours", ours)]
    if importlib.util.find_spec("mailparser_reply") is None:
        print("mail-parser-reply is not installed (pip install mail-parser-reply): only our parser is scored")
    else:
        readers.append(("mail-parser-reply", theirs))
    for label, reader in readers:
        right, wrong = score(reader)
        print(f"{label}: {right}/{len(CORPUS)} right; wrong: {', '.join(wrong) or 'none'}")
