"""Reading an approver's reply: which request it answers, what it decides, and whether the sender is real.

Pure functions over `email.message.EmailMessage`, so every mail client's style can be tested as
plain data. The decision is the first non-empty line the approver wrote, never anything quoted:
our own request contains the words APPROVE and REJECT, so reading past the first line would let
an empty reply approve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.errors import MessageError
from email.message import Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Literal

import authres

TOKEN = r"([a-z0-9_-]{20,64})"
SUBJECT_TAG = re.compile(r"\[pma:" + TOKEN + r"\]", re.IGNORECASE)
INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"), None)
APPROVE = re.compile(r"^(?:approve|approved)[\s.!]*$", re.IGNORECASE)
REJECT = re.compile(r"^(?:reject|rejected)\b[\s:,.;!*_-]*(.*)$", re.IGNORECASE)
QUOTE_HEADERS = [re.compile(p, re.IGNORECASE) for p in (
    r"^on .+ wrote:?$", r"^am .+ schrieb .+:?$", r"^le .+ a écrit ?:?$", r"^-{2,}\s*original message\s*-{2,}$",
    r"^-{2,}\s*ursprüngliche nachricht\s*-{2,}$", r"^_{6,}$", r"^(from|von|de):\s", r"^--\s*$",
)]
BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr", "pre"}
SKIPPED_TAGS = {"blockquote", "style", "script", "head", "title"}
SKIPPED_CLASSES = {"gmail_quote", "gmail_attr", "gmail_signature", "moz-cite-prefix", "yahoo_quoted"}
CUT_IDS = {"appendonsend", "divrplyfwdmsg", "mail-editor-reference-message-container"}  # Outlook: quote follows


@dataclass(frozen=True)
class ParsedDecision:
    verdict: Literal["approve", "reject"]
    reason: str


class _ReplyHtml(HTMLParser):
    """The approver's own words from an HTML reply: quotes, signatures and Outlook's tail left out."""

    VOID = {"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_stack: list[str] = []
        self.cut = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.cut:
            return
        attributes = {k.lower(): (v or "") for k, v in attrs}
        if (attributes.get("id", "").lower() in CUT_IDS) or (tag == "hr" and not self.skip_stack and self.parts
                                                              and "".join(self.parts).strip()):
            self.cut = True  # Outlook writes the quoted message after this, outside any blockquote
            return
        if tag in BLOCK_TAGS:
            self.parts.append("\n")
        if tag in self.VOID:
            return
        classes = set(attributes.get("class", "").lower().split())
        if self.skip_stack or tag in SKIPPED_TAGS or classes & SKIPPED_CLASSES:
            self.skip_stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skip_stack:  # pop through unclosed inner tags (<p> without </p>)
            while self.skip_stack and self.skip_stack.pop() != tag:
                pass
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.cut and not self.skip_stack:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _ReplyHtml()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def _part_text(part: Message) -> str:
    """A text part's text; an unknown or misspelt charset is read as UTF-8 (a reply is never lost
    to, nor crashes on, a mail client's odd label)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def reply_body_text(message: Message) -> str:
    """The reply's text: its text/plain part, else its HTML part turned into text."""
    plain: str | None = None
    markup: str | None = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if part.get_content_type() == "text/plain" and plain is None:
            plain = _part_text(part)
        elif part.get_content_type() == "text/html" and markup is None:
            markup = _part_text(part)
    if plain is not None and plain.strip():
        return plain
    return html_to_text(markup) if markup is not None else ""


def first_written_line(text: str) -> str | None:
    """The first non-empty line the sender wrote; None if the reply starts with quoted text."""
    for raw in text.splitlines():
        line = raw.translate(INVISIBLE).replace("\xa0", " ").strip()
        if not line:
            continue
        if line.startswith(">") or any(p.match(line) for p in QUOTE_HEADERS):
            return None
        return line
    return None


def parse_decision(line: str | None) -> ParsedDecision | None:
    """`APPROVE` or `REJECT <reason>` (any case, optional punctuation); anything else is None."""
    if line is None:
        return None
    stripped = line.strip().strip("*_`\"'").strip()
    if APPROVE.match(stripped):
        return ParsedDecision("approve", "")
    if match := REJECT.match(stripped):
        return ParsedDecision("reject", match.group(1).strip().strip("*_`\"'").strip()[:500])
    return None


# what Python's email package may raise while parsing a malformed header value on access
HEADER_ERRORS = (MessageError, IndexError, ValueError, TypeError, AttributeError, LookupError)


def header_values(message: Message, name: str) -> list[str]:
    """Every value of header `name`, decoded; a value the email package cannot parse is kept raw
    (a malformed header in a stranger's mail must not stop the mailbox from being read)."""
    values = []
    for key, raw in message.raw_items():
        if key.lower() != name.lower():
            continue
        try:
            values.append(str(message.policy.header_fetch_parse(key, raw)))
        except HEADER_ERRORS:
            values.append(str(raw))
    return values


def header_text(message: Message, name: str, default: str = "") -> str:
    """The first value of header `name` (see `header_values`), or `default`."""
    values = header_values(message, name)
    return values[0] if values else default


def find_token(message: Message, reply_address: str) -> str | None:
    """The request token, from the plus-address the reply was sent to, else from the subject tag."""
    local, _, domain = reply_address.lower().partition("@")
    plus = re.compile(re.escape(local) + r"\+" + TOKEN + "@" + re.escape(domain) + "$")
    headers = [v for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
               for v in header_values(message, name)]
    for _, address in getaddresses(headers):
        if match := plus.match(address.lower()):
            return match.group(1)
    if match := SUBJECT_TAG.search(header_text(message, "Subject")):
        return match.group(1).lower()
    return None


PLUS_TOKEN = re.compile(r"\+" + TOKEN + r"@", re.IGNORECASE)


def redact_tokens(text: str) -> str:
    """`text` with every reply token (subject tag, plus-address) replaced: what may be stored or shown."""
    return PLUS_TOKEN.sub("+[redacted]@", SUBJECT_TAG.sub("[pma:redacted]", text))


def sender_address(message: Message) -> str:
    return parseaddr(header_text(message, "From"))[1].strip().lower()


def is_automatic(message: Message) -> bool:
    """Out-of-office notices, bounces and list mail (RFC 3834): never answered, never a decision."""
    auto = header_text(message, "Auto-Submitted", "no").strip().lower()
    precedence = header_text(message, "Precedence").strip().lower()
    return auto not in ("", "no") or precedence in ("bulk", "junk", "list", "auto_reply") or bool(
        header_text(message, "X-Autoreply") or header_text(message, "X-Autorespond"))


def _results(header: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]] | None:
    """(authserv-id, [(method, result, {ptype.property: value})]) of one Authentication-Results header
    (RFC 8601, parsed by `authres`); None if it cannot be parsed, which is no evidence of anything."""
    try:
        parsed = authres.AuthenticationResultsHeader.parse_value(header)
    except (authres.AuthResError, ValueError, IndexError, TypeError, AttributeError):
        return None
    results = []
    for result in parsed.results:
        props = {f"{p.type}.{p.name}".lower(): str(p.value or "").strip('"').lower() for p in result.properties}
        results.append((str(result.method).lower(), str(result.result).lower(), props))
    return str(parsed.authserv_id or "").lower(), results


def _aligned(domain: str, sender_domain: str) -> bool:
    return bool(domain) and (sender_domain == domain or sender_domain.endswith("." + domain))


def _vouched_domains(method: str, props: dict[str, str]) -> list[str]:
    """The domains a passing result of `method` speaks for."""
    if method == "dkim":
        return [props.get("header.d") or props.get("header.i", "").rpartition("@")[2]]
    if method == "spf":
        return [props.get("smtp.mailfrom", "").rpartition("@")[2]]
    if method == "dmarc":
        return [props.get("header.from", "").rpartition("@")[2]]
    return []


def authenticated(message: Message, trusted_authserv_id: str) -> bool:
    """True if our own mail server vouches for the From domain: aligned dkim, spf or dmarc=pass.

    An attacker can write any header, so only the results added by the receiving server count:
    the run of headers at the top (receivers prepend theirs) that name `trusted_authserv_id`. A
    header naming it further down, below someone else's, was there before our server saw the mail.
    """
    sender_domain = sender_address(message).rpartition("@")[2]
    if not sender_domain:
        return False
    trusted = trusted_authserv_id.strip().lower()
    for header in header_values(message, "Authentication-Results"):
        parsed = _results(header)
        if parsed is None or parsed[0] != trusted:
            break
        for method, result, props in parsed[1]:
            if result == "pass" and any(_aligned(d, sender_domain) for d in _vouched_domains(method, props)):
                return True
    return False
