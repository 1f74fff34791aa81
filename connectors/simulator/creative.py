"""Ad copy in the simulated world: a hidden score of ad text, and realistic text to score.

`ctr_multiplier` is the simulator's secret: the factor by which an ad's wording moves its
click-through rate above or below its ad set's base rate. The agent never sees it; it sees only the
CTRs that come out of it, so a CTR predictor can be trained on existing ads and then checked against
`Truth.true_ctr` for new copy. The score rewards what copywriters believe works (relevance to the
keyword theme, a concrete number, a clear call to action, a length that fits the slot, social proof)
and punishes shouting, plus a small fixed per-text quirk that no feature explains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from connectors.simulator.random_streams import entity_key
from connectors.simulator.verticals import Vertical

_WORD = re.compile(r"[a-z0-9']+")
_CTA_VERBS = frozenset(
    {"shop", "get", "try", "start", "book", "discover", "download", "save", "join", "request", "see", "claim", "find"}
)
_URGENCY = frozenset({"today", "now", "limited", "ends", "last", "hurry", "tonight"})
_PROFESSIONAL = frozenset({"teams", "roi", "report", "benchmark", "guide", "enterprise", "pipeline", "compliance", "audit"})
_PROOF = re.compile(r"(rated|trusted|reviews|loved by|used by|customers|companies)", re.IGNORECASE)
_NUMBER = re.compile(r"\d")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")

# Preferred character lengths per platform: (headline sweet spot, body sweet spot, headline hard limit).
_LENGTHS: dict[str, tuple[tuple[int, int], tuple[int, int], int]] = {
    "google_ads": ((18, 30), (60, 90), 30),
    "meta": ((20, 40), (50, 125), 60),
    "linkedin": ((35, 70), (90, 150), 200),
}
MULTIPLIER_RANGE: tuple[float, float] = (math.exp(-0.6), math.exp(0.6))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _length_score(length: int, sweet_spot: tuple[int, int]) -> float:
    low, high = sweet_spot
    if low <= length <= high:
        return 0.04
    distance = (low - length) if length < low else (length - high)
    return -min(0.12, 0.004 * distance)


def _shouting_penalty(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    upper_share = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
    penalty = 0.18 if upper_share > 0.5 else 0.0
    if text.count("!") > 1:
        penalty += 0.12
    return penalty


def ctr_multiplier(platform: str, headlines: Sequence[str], descriptions: Sequence[str], theme: str = "") -> float:
    """The hidden CTR multiplier of an ad's text (about 0.55 to 1.8; 1.0 is an average ad).

    Deterministic in its inputs: the same text on the same platform and theme always scores the same.
    """
    headline_text = " ".join(headlines)
    body_text = " ".join(descriptions)
    all_text = f"{headline_text} {body_text}"
    headline_words, all_words = _words(headline_text), set(_words(all_text))
    head_sweet, body_sweet, head_limit = _LENGTHS.get(platform, _LENGTHS["meta"])

    theme_words = set(_words(theme))
    relevance = len(theme_words & set(headline_words)) / len(theme_words) if theme_words else 0.0
    # The offset centres the score so a typical generated ad sits near 1.0.
    log_multiplier = 0.22 * relevance - 0.46
    if _NUMBER.search(all_text):
        log_multiplier += 0.09
    if any(word in _CTA_VERBS for word in all_words):
        log_multiplier += 0.08
    urgency_hits = sum(word in _URGENCY for word in _words(all_text))
    log_multiplier += 0.06 if urgency_hits == 1 else (-0.05 if urgency_hits > 1 else 0.0)
    if "you" in all_words or "your" in all_words:
        log_multiplier += 0.05
    if _PROOF.search(all_text):
        log_multiplier += 0.07
    if "?" in headline_text:
        log_multiplier += 0.03
    for headline in headlines:
        log_multiplier += _length_score(len(headline), head_sweet) / max(1, len(headlines))
        if len(headline) > head_limit:
            log_multiplier -= 0.2 / max(1, len(headlines))
    for description in descriptions:
        log_multiplier += _length_score(len(description), body_sweet) / max(1, len(descriptions))
    log_multiplier -= _shouting_penalty(all_text)
    emoji_count = len(_EMOJI.findall(all_text))
    if platform == "linkedin":
        log_multiplier += 0.08 if all_words & _PROFESSIONAL else 0.0
        log_multiplier -= 0.08
        log_multiplier -= 0.08 * min(emoji_count, 2)
    elif platform == "meta":
        log_multiplier += 0.05 if emoji_count == 1 else (-0.06 if emoji_count > 2 else 0.0)
    quirk = entity_key(" ".join(all_text.lower().split())) / 2.0**64 - 0.5
    log_multiplier += 0.16 * quirk
    return float(math.exp(min(0.6, max(-0.6, log_multiplier))))


@dataclass(frozen=True)
class AdCreative:
    """An ad's text. On Meta `descriptions[0]` is the primary text; on LinkedIn the intro text."""

    headlines: tuple[str, ...]
    descriptions: tuple[str, ...]
    call_to_action: str | None


_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "$", "AUD": "$"}
_CTAS: dict[str, tuple[str, ...]] = {
    "meta": ("SHOP_NOW", "LEARN_MORE", "GET_OFFER", "SIGN_UP"),
    "linkedin": ("LEARN_MORE", "REQUEST_DEMO", "DOWNLOAD", "SIGN_UP", "REGISTER"),
}


def _title(text: str) -> str:
    return " ".join(word if word.isupper() else word[:1].upper() + word[1:] for word in text.split())


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _localise(text: str, currency: str) -> str:
    return text.replace("$", _CURRENCY_SYMBOLS.get(currency, ""))


GOOGLE_HEADLINE_LIMIT = 30
GOOGLE_DESCRIPTION_LIMIT = 90


def _google_creative(
    rng: np.random.Generator, vertical: Vertical, theme: str, offer: str, benefit: str, proof: str, weak: bool
) -> AdCreative:
    """A responsive search ad: 3-4 headlines of at most 30 characters, descriptions of at most 90."""
    theme_title = _title(theme)
    verb = "Try" if vertical.b2b else "Shop"
    candidates = [theme_title, f"{verb} {theme_title}", offer, _sentence(benefit), f"Official {vertical.brand} Site", proof]
    if weak:
        candidates = [f"BEST {theme.upper()}!!", "Quality Products", "Click Here Now", theme_title]
    candidates = [c for c in candidates if len(c) <= GOOGLE_HEADLINE_LIMIT] or [vertical.brand]
    count = min(int(rng.integers(3, 5)), len(candidates))
    chosen = [candidates[i] for i in sorted(rng.choice(len(candidates), size=count, replace=False))]
    if weak:
        descriptions = [f"We sell {theme}. Visit our website for more information.", "Quality products and services."]
    else:
        descriptions = [f"{_sentence(benefit)}. {offer}.", f"{proof}. Get your {theme} today.", f"{proof}."]
    fitting = tuple(d for d in descriptions if len(d) <= GOOGLE_DESCRIPTION_LIMIT)[:2]
    return AdCreative(tuple(chosen), fitting or (f"{vertical.brand}.",), None)


def generate_creative(
    rng: np.random.Generator, platform: str, vertical: Vertical, theme: str, currency: str
) -> AdCreative:
    """Realistic ad text for an ad set about `theme`; about one ad in four is written weakly."""
    offer = _localise(_pick(rng, vertical.offers), currency)
    benefit = _pick(rng, vertical.benefits)
    proof = _pick(rng, vertical.social_proof)
    weak = rng.random() < 0.25
    theme_title = _title(theme)
    if platform == "google_ads":
        return _google_creative(rng, vertical, theme, offer, benefit, proof, weak)
    cta = _pick(rng, _CTAS.get(platform, _CTAS["meta"]))
    if platform == "linkedin":
        headline = f"{offer}: {_title(theme)}" if not weak else f"{vertical.brand} {_title(theme)} Solutions"
        intro = (
            f"{proof}. See how teams use {vertical.brand} to {benefit}. {offer} and get the ROI guide."
            if not weak
            else f"🚀🚀 {vertical.brand} is the leading provider of {theme}!!! Contact us to learn more!!"
        )
        return AdCreative((headline,), (intro,), cta)
    headline = f"{theme_title} — {offer}" if not weak else f"{vertical.brand.upper()} {theme.upper()}"
    primary = (
        f"{_sentence(benefit)}. {proof}. {offer} ✨"
        if not weak
        else f"Check out our amazing {theme}!!! 🔥🔥🔥 Best prices on the market, you won't believe it!!!"
    )
    return AdCreative((headline,), (primary,), cta)


def creative_attributes(platform: str, creative: AdCreative) -> Mapping[str, Any]:
    """Entity attributes for an ad: platform-native field names plus `headline` / `description` for all."""
    common: dict[str, Any] = {
        "headline": creative.headlines[0],
        "description": creative.descriptions[0],
    }
    if platform == "google_ads":
        return {**common, "ad_type": "RESPONSIVE_SEARCH_AD", "headlines": list(creative.headlines),
                "descriptions": list(creative.descriptions)}
    body_field = "introductory_text" if platform == "linkedin" else "primary_text"
    return {**common, body_field: creative.descriptions[0], "call_to_action": creative.call_to_action}
