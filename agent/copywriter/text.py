"""Counting, normalising and comparing ad text the way people (and ad platforms) read it.

Platforms count what a reader sees as one character: an emoji with a skin tone, a flag or an
accented letter typed as two code points is one. `len()` would count them as 2 to 7 and reject
good copy, or pass text a platform cuts off. Google Ads also counts wide (CJK) characters twice.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

_ZWJ = "\u200d"
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u2060\ufeff\u00ad"))  # zero-width space/joiners, BOM, soft hyphen
_WHITESPACE = re.compile(r"\s+")
# A word: letters and digits of any script, joined by an inner apostrophe, or by a point or comma
# between two digits ("4.7", "1,000"), with a percent sign after a number ("20%"). Splitting at every
# point made "Rated 4.7" the words "4" and "7" and the pattern "4 7".
_WORD = re.compile(r"[^\W_]+(?:(?:['’]|(?<=\d)[.,](?=\d))[^\W_]+)*(?:(?<=\d)%)?", re.UNICODE)
# Where a phrase ends: sentence and clause punctuation, dashes, brackets, separators. A point or comma
# between digits is part of a number, not a break.
_PHRASE_BREAK = re.compile(r"(?<!\d)[.,]|[.,](?!\d)"
                           r"|[!?;:…()\[\]{}|/\\\"“”«»‹›—–·•。、！？；：（）「」『』【】]|\s-\s")


def _extends_cluster(char: str) -> bool:
    """True for code points that attach to the previous character (no width of their own)."""
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me")
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (text / emoji presentation)
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
        or code == 0x20E3  # combining enclosing keycap
    )


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def graphemes(text: str) -> list[str]:
    """Split NFC-normalised `text` into user-perceived characters (an approximation of UAX #29
    good enough for ad copy: combining marks, emoji modifiers, ZWJ sequences and flags)."""
    clusters: list[str] = []
    joining = False
    for char in unicodedata.normalize("NFC", text):
        if clusters and (joining or _extends_cluster(char) or char == _ZWJ):
            clusters[-1] += char
            joining = char == _ZWJ
            continue
        if (clusters and _is_regional_indicator(char) and len(clusters[-1]) == 1
                and _is_regional_indicator(clusters[-1])):
            clusters[-1] += char  # two regional indicators make one flag
            continue
        clusters.append(char)
        joining = False
    return clusters


def char_count(text: str, wide_counts_double: bool = False) -> int:
    """Characters as a platform counts them; `wide_counts_double` for Google's CJK rule."""
    if not wide_counts_double:
        return len(graphemes(text))
    return sum(2 if unicodedata.east_asian_width(cluster[0]) in ("W", "F") and not is_emoji(cluster) else 1
               for cluster in graphemes(text))


def is_emoji(cluster: str) -> bool:
    """True if a grapheme cluster is (or starts with) an emoji or pictographic symbol."""
    code = ord(cluster[0])
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0x2B00 <= code <= 0x2BFF
        or _is_regional_indicator(cluster[0])
        or "\ufe0f" in cluster
        or "\u20e3" in cluster
    )


def emoji_count(text: str) -> int:
    return sum(1 for cluster in graphemes(text) if is_emoji(cluster))


def clean(text: str) -> str:
    """NFC, invisible characters removed, whitespace runs (tabs, newlines, NBSP) collapsed, trimmed.

    Drafts are cleaned before validation so that a stray double space or zero-width character
    neither fails a limit nor sneaks past the duplicate check.
    """
    normalised = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    return _WHITESPACE.sub(" ", normalised).strip()


def _script_class(char: str) -> str:
    code = ord(char)
    if 0x3040 <= code <= 0x309F:
        return "hiragana"
    if 0x30A0 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
        return "katakana"  # with the prolonged sound mark ー
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or code == 0x3005:
        return "han"
    if 0xAC00 <= code <= 0xD7AF:
        return "hangul"
    return "other"


def _split_scripts(token: str) -> list[str]:
    """Japanese and Chinese write words without spaces: a run is cut where the script changes
    (kanji, hiragana, katakana, Latin and digits), so "今週20%オフ" is "今週", "20%", "オフ"."""
    if all(_script_class(c) == "other" for c in token):
        return [token]
    parts: list[str] = []
    for char in token:
        if parts and _script_class(char) == _script_class(parts[-1][-1]):
            parts[-1] += char
        else:
            parts.append(char)
    return parts


def is_cjk(word: str) -> bool:
    """True for a word of Japanese or Chinese script (phrases of them are written without a space)."""
    return bool(word) and _script_class(word[0]) in ("hiragana", "katakana", "han")


def words(text: str) -> list[str]:
    """Lower-case words (letters and digits of any script, inner apostrophes kept; Japanese and
    Chinese cut where the script changes)."""
    found = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    return [part.replace("’", "'") for word in found for part in _split_scripts(word)]


def phrase_runs(text: str) -> list[list[str]]:
    """The text's words in runs that no punctuation interrupts: a two-word phrase is taken inside
    one run only, so "terrain. Rated" or "runners — 20%" is never a phrase."""
    normalised = unicodedata.normalize("NFKC", text)
    return [run for run in (words(part) for part in _PHRASE_BREAK.split(normalised)) if run]


def comparable(text: str) -> str:
    """The text reduced to its words, for duplicate detection: case, punctuation, emoji, accents
    and spacing do not make two ads different."""
    stripped = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(word.rstrip("%") for word in words(stripped))


def similarity(first: str, second: str) -> float:
    """0..1 similarity of two texts after `comparable`: the larger of a character-sequence ratio
    and a word-set overlap (so reordered words still count as the same ad)."""
    a, b = comparable(first), comparable(second)
    if not a or not b:
        return 1.0 if a == b else 0.0
    sequence = SequenceMatcher(None, a, b, autojunk=False).ratio()
    set_a, set_b = set(a.split()), set(b.split())
    jaccard = len(set_a & set_b) / len(set_a | set_b)
    return max(sequence, jaccard)
