"""Every variant is checked before it may become a proposal; rejected ones are counted, not proposed.

Rules: item counts and lengths per platform (limits.py), emoji where the platform refuses them,
the platform's CTA buttons, unfilled placeholders, banned words and claims, required spellings of
the brand and product names, and near-duplicates of the ad set's ads or of sibling drafts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from agent.copywriter.drafting import Variant
from agent.copywriter.history import AdText
from agent.copywriter.limits import PlatformLimits
from agent.copywriter.settings import BrandSettings
from agent.copywriter.text import char_count, clean, emoji_count, similarity

PLACEHOLDERS = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]|<[^<>]*>|\bTODO\b|\bXXX+\b|\bTBD\b|lorem ipsum", re.IGNORECASE)


@dataclass(frozen=True)
class Rejection:
    rule: str  # count, empty, length, emoji, cta, placeholder, banned_word, banned_claim, spelling, duplicate
    message: str


def clean_variant(variant: Variant) -> Variant:
    """Whitespace and invisible characters tidied (not a reason to reject good copy)."""
    cta = variant.call_to_action.strip().upper().replace(" ", "_") if variant.call_to_action else None
    return replace(variant, headlines=tuple(clean(h) for h in variant.headlines),
                   descriptions=tuple(clean(d) for d in variant.descriptions), call_to_action=cta or None)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _phrase(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(part) for part in _folded(word).split()) + r"(?!\w)")


def _misspellings(text: str, spelling: str) -> list[str]:
    """Occurrences of `spelling` written differently (case, spaces, hyphens): 'Linked in', 'LINKEDIN'."""
    letters = [c for c in spelling if not c.isspace() and c != "-"]
    if not letters:
        return []
    loose = re.compile(r"(?<!\w)" + r"[\s\-]?".join(re.escape(c) for c in letters) + r"(?!\w)", re.IGNORECASE)
    return [match.group(0) for match in loose.finditer(text) if match.group(0) != spelling]


def _text_of(ad: AdText) -> str:
    return " | ".join((*ad.headlines, *ad.descriptions))


def validate(variant: Variant, limits: PlatformLimits, brand: BrandSettings, existing: Sequence[AdText] = (),
             siblings: Sequence[Variant] = (), max_similarity: float = 0.85) -> list[Rejection]:
    """Every rule the (cleaned) variant breaks; empty means it may be proposed."""
    problems: list[Rejection] = []
    for name, items in (("headlines", variant.headlines), ("descriptions", variant.descriptions)):
        spec = limits.field(name)
        if not spec.min_items <= len(items) <= spec.max_items:
            problems.append(Rejection("count", f"{len(items)} {spec.label}(s); {limits.platform} takes "
                                               f"{spec.min_items}-{spec.max_items}"))
        for item in items:
            if not item.strip():
                problems.append(Rejection("empty", f"an empty {spec.label}"))
                continue
            length = char_count(item, limits.wide_counts_double)
            if length > spec.max_chars:
                problems.append(Rejection("length", f"{spec.label} {item!r} has {length} characters; "
                                                    f"{limits.platform} {spec.kind} limit is {spec.max_chars}"))
    everything = [*variant.headlines, *variant.descriptions]
    joined = " | ".join(everything)
    if not limits.emoji_allowed and emoji_count(joined):
        problems.append(Rejection("emoji", f"{limits.platform} text ads may not contain emoji"))
    if limits.calls_to_action and variant.call_to_action not in (None, *limits.calls_to_action):
        problems.append(Rejection("cta", f"call to action {variant.call_to_action!r} is not a {limits.platform} "
                                         f"button ({', '.join(limits.calls_to_action)})"))
    for match in PLACEHOLDERS.finditer(joined):
        problems.append(Rejection("placeholder", f"unfilled placeholder {match.group(0)!r}"))
    folded = _folded(joined)
    for word in brand.banned_words:
        if word.strip() and _phrase(word).search(folded):
            problems.append(Rejection("banned_word", f"uses the banned word {word!r}"))
    for claim in brand.banned_claims:
        found = re.search(claim, joined, re.IGNORECASE)
        if found:
            problems.append(Rejection("banned_claim", f"makes a banned claim: {found.group(0)!r}"))
    for spelling in brand.spellings:
        for wrong in _misspellings(joined, spelling):
            problems.append(Rejection("spelling", f"writes {wrong!r}; the required spelling is {spelling!r}"))
    text = _text_of(variant.text)
    for label, others in (("an existing ad", [_text_of(a) for a in existing]),
                          ("a sibling draft", [_text_of(s.text) for s in siblings])):
        for other in others:
            score = similarity(text, other)
            if score >= max_similarity:
                problems.append(Rejection("duplicate", f"{score:.0%} similar to {label}: {other[:80]!r}"))
                break
    return problems
