"""Text features of an ad: the copywriting levers the patterns and the CTR model talk about.

Each feature is a number a marketer can read back ("has a number", "headline uses 80% of its
space"), so that a learnt weight is also an explanation. Word lists are common copywriting
vocabulary, not tuned to any account.
"""

from __future__ import annotations

import functools
import re

from agent.copywriter.history import AdText
from agent.copywriter.limits import PlatformLimits
from agent.copywriter.text import char_count, emoji_count, words

CTA_VERBS = frozenset({
    "shop", "get", "try", "start", "book", "discover", "download", "save", "join", "request", "see", "claim",
    "find", "learn", "order", "buy", "explore", "grab", "register", "sign", "subscribe", "apply", "compare",
})
URGENCY_WORDS = frozenset({"today", "now", "limited", "ends", "last", "hurry", "tonight", "deadline", "soon"})
SOCIAL_PROOF = re.compile(r"\b(rated|trusted|reviews?|loved by|used by|customers|companies|stars?|award)\b|★",
                          re.IGNORECASE)
OFFER = re.compile(r"%|[$€£¥]|\b(free|save|off|discount|trial|deal|bonus|gift)\b", re.IGNORECASE)
PROFESSIONAL = frozenset({
    "teams", "roi", "report", "benchmark", "guide", "enterprise", "pipeline", "compliance", "audit", "workflow",
    "productivity", "security", "scale", "data", "strategy", "leaders",
})
_NUMBER = re.compile(r"\d")

# (name, what it means): the order is the order of the model's weights.
FEATURES: tuple[tuple[str, str], ...] = (
    ("theme_in_headline", "share of the ad set's theme words in the headline"),
    ("has_number", "a number anywhere"),
    ("offer", "an offer: %, price, free, save, trial"),
    ("cta_verb", "a call-to-action verb (get, try, book, shop ...)"),
    ("urgency_one", "exactly one urgency word (today, now, limited ...)"),
    ("urgency_many", "several urgency words"),
    ("second_person", "speaks to the reader (you, your)"),
    ("social_proof", "social proof (rated, trusted, reviews ...)"),
    ("question", "a question in the headline"),
    ("headline_fill", "headline length as a share of its limit"),
    ("headline_short", "headline under half its limit"),
    ("description_fill", "body length as a share of its limit"),
    ("description_short", "body under 40% of its limit"),
    ("shouting", "mostly capital letters"),
    ("exclamations", "more than one exclamation mark"),
    ("emoji_one", "exactly one emoji"),
    ("emoji_many", "two or more emoji"),
    ("professional", "professional vocabulary (ROI, teams, report ...)"),
    ("brand_in_headline", "the brand name in the headline"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
FEATURE_MEANINGS: dict[str, str] = dict(FEATURES)


def _mean_fill(texts: tuple[str, ...], limit: int, wide: bool) -> float:
    if not texts:
        return 0.0
    return min(1.5, sum(char_count(t, wide) for t in texts) / len(texts) / limit)


def _upper_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(c.isupper() for c in letters) / len(letters) if letters else 0.0


def text_features(text: AdText, limits: PlatformLimits, theme: str, brand: str = "") -> dict[str, float]:
    """The features of one ad's text, in the ad set whose theme is `theme`."""
    all_text = text.all_text
    headline_words = set(words(text.headline_text))
    all_words = words(all_text)
    word_set = set(all_words)
    theme_words = set(words(theme))
    urgency = sum(w in URGENCY_WORDS for w in all_words)
    emoji = emoji_count(all_text)
    wide = limits.wide_counts_double
    headline_fill = _mean_fill(text.headlines, limits.headline.max_chars, wide)
    description_fill = _mean_fill(text.descriptions, limits.description.max_chars, wide)
    brand_words = set(words(brand))
    return {
        "theme_in_headline": len(theme_words & headline_words) / len(theme_words) if theme_words else 0.0,
        "has_number": float(bool(_NUMBER.search(all_text))),
        "offer": float(bool(OFFER.search(all_text))),
        "cta_verb": float(bool(word_set & CTA_VERBS)),
        "urgency_one": float(urgency == 1),
        "urgency_many": float(urgency > 1),
        "second_person": float(bool(word_set & {"you", "your", "you're", "yours"})),
        "social_proof": float(bool(SOCIAL_PROOF.search(all_text))),
        "question": float("?" in text.headline_text),
        "headline_fill": headline_fill,
        "headline_short": float(headline_fill < 0.5),
        "description_fill": description_fill,
        "description_short": float(description_fill < 0.4),
        "shouting": float(_upper_share(all_text) > 0.5),
        "exclamations": float(all_text.count("!") > 1),
        "emoji_one": float(emoji == 1),
        "emoji_many": float(emoji >= 2),
        "professional": float(bool(word_set & PROFESSIONAL)),
        "brand_in_headline": float(bool(brand_words) and brand_words <= headline_words),
    }


def feature_vector(text: AdText, limits: PlatformLimits, theme: str, brand: str = "") -> list[float]:
    """The features in FEATURE_NAMES order. Computed once per (text, limits, theme, brand) per
    process: an account's ads are the same from one hourly cycle to the next, and a draft is scored
    again when it is validated."""
    return list(_feature_tuple(text, limits, theme, brand))


@functools.lru_cache(maxsize=65536)
def _feature_tuple(text: AdText, limits: PlatformLimits, theme: str, brand: str) -> tuple[float, ...]:
    values = text_features(text, limits, theme, brand)
    return tuple(values[name] for name in FEATURE_NAMES)
