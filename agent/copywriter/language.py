"""Which language a piece of ad copy is written in, and which language drafts must be written in.

Drafts follow the segment's `language`, else the copywriter's (`copywriter: {language: ja}` on the
account), else the language most of the account's own ads are written in. Detection is
deliberately simple: the script (kana means Japanese, Hangul Korean, Han alone Chinese), then, for
Latin text, which language's common short words it uses (with a few letters only one of them has).
Short pieces without such words ("Trail Shoes — 20% off") are "Latin, language unknown": they fit
any Latin-script language but never a Japanese draft.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable

from agent.copywriter.text import words

LANGUAGE_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "ja": "Japanese", "zh": "Chinese", "ko": "Korean",
}
_COMMON_WORDS = {
    "en": {"the", "and", "for", "you", "your", "with", "on", "of", "to", "every", "our", "get", "now", "by", "this",
           "off", "week", "new", "all", "is", "are", "more", "best", "out", "shop", "free", "today", "day", "check"},
    "de": {"der", "die", "das", "und", "für", "mit", "jetzt", "ihr", "ihre", "sie", "auf", "ein", "eine", "nicht",
           "zu", "von", "bei"},
    "fr": {"le", "la", "les", "et", "pour", "avec", "vous", "votre", "des", "une", "sur", "dès", "du", "au", "de",
           "par", "nos", "notre"},
    "es": {"el", "la", "los", "las", "y", "para", "con", "tu", "su", "del", "una", "por", "ahora", "en", "de",
           "nuestros"},
}
_LETTER_HINTS = {"de": "äöüß", "fr": "çàèùâêîôûœëé", "es": "ñ¿¡áíóú"}
LATIN = ("en", "de", "fr", "es", "it", "pt", "nl")


def base_code(language: str) -> str:
    """`pt-BR` -> `pt`."""
    return language.split("-", 1)[0].lower()


def language_name(language: str) -> str:
    return LANGUAGE_NAMES.get(base_code(language), language)


def script_of(text: str) -> str | None:
    """The dominant writing system of `text`: latin, kana (Japanese), hangul, han, or None (digits only)."""
    counts: Counter[str] = Counter()
    for char in unicodedata.normalize("NFKC", text):
        code = ord(char)
        if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
            counts["kana"] += 1
        elif 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
            counts["hangul"] += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
            counts["han"] += 1
        elif char.isalpha() and "LATIN" in unicodedata.name(char, ""):
            counts["latin"] += 1
    if not counts:
        return None
    if counts["kana"]:
        return "kana"  # Japanese mixes kana with kanji (and Latin brand names); kana is the tell
    return counts.most_common(1)[0][0]


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of `text`, or None when it cannot tell (digits, a Latin text without common words)."""
    script = script_of(text)
    if script == "kana":
        return "ja"
    if script == "hangul":
        return "ko"
    if script == "han":
        return "zh"
    if script != "latin":
        return None
    tokens = words(text)
    lowered = text.casefold()
    scores = {code: sum(token in common for token in tokens) + 2 * sum(ch in lowered for ch in _LETTER_HINTS.get(code, ""))
              for code, common in _COMMON_WORDS.items()}
    best = max(sorted(scores), key=lambda code: scores[code])
    if scores[best] == 0 or sorted(scores.values())[-2] == scores[best]:
        return None
    return best


SHORT_PIECE_WORDS = 3  # a piece this short without a recognisable language is a name or a number


def fits(text: str, language: str, material_language: str | None = None) -> bool:
    """True if `text` may appear in a draft written in `language`: the right script, and for Latin
    languages recognisably that language, or too short to tell ("Running Jacket", "20% off"), or
    unrecognised in material written mostly in `language` itself."""
    code = base_code(language)
    script = script_of(text)
    if script is None:
        return True
    if code == "ja":
        return script in ("kana", "han")
    if code == "zh":
        return script == "han"
    if code == "ko":
        return script == "hangul"
    if script != "latin":
        return False
    detected = detect_language(text)
    if detected is not None:
        return detected == code
    return len(words(text)) <= SHORT_PIECE_WORDS or (material_language is not None
                                                     and base_code(material_language) == code)


def dominant_language(texts: Iterable[str]) -> str | None:
    """The language most of `texts` are recognisably written in (ties: alphabetical), or None."""
    counts = Counter(code for code in map(detect_language, texts) if code)
    if not counts:
        return None
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]


def joiner(language: str) -> str:
    """What goes between two sentences: nothing in Japanese and Chinese, a space elsewhere."""
    return "" if base_code(language) in ("ja", "zh") else " "
