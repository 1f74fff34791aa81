"""Google-style keywords, the search terms they trigger, and negative-keyword matching.

Every Google ad group gets an exact, a phrase and a broad keyword on its theme, and a fixed universe
of search terms: relevant variants that convert, and irrelevant ones ("free", "jobs", "diy" ...) that
get clicks but never convert. Blocking the irrelevant ones with negatives is how an agent earns ROAS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from connectors.simulator.verticals import Vertical

MATCH_TYPES: tuple[str, ...] = ("EXACT", "PHRASE", "BROAD")


@dataclass(frozen=True)
class SimKeyword:
    """A keyword in an ad group."""

    keyword_id: str
    ad_set_id: str
    text: str
    match_type: str


@dataclass(frozen=True)
class SearchTerm:
    """A query people type; `impression_weight` is its share of the ad group's demand (unnormalised)."""

    text: str
    keyword_id: str
    impression_weight: float
    ctr_factor: float
    cvr_factor: float
    relevant: bool


@dataclass(frozen=True)
class NegativeKeyword:
    """A negative keyword as added by a mutation (at ad group or campaign level)."""

    text: str
    match_type: str
    list_name: str = ""


def normalise_query(text: str) -> tuple[str, ...]:
    """Lower-case words of a query, the unit Google matches negatives on."""
    return tuple(text.lower().split())


def contains_phrase(term: Sequence[str], phrase: Sequence[str]) -> bool:
    """True if the words of `phrase` appear contiguously, in order, in `term`."""
    width = len(phrase)
    if width == 0:
        return False
    return any(tuple(term[i : i + width]) == tuple(phrase) for i in range(len(term) - width + 1))


def negative_blocks(term_text: str, negative: NegativeKeyword) -> bool:
    """Whether `negative` stops `term_text` from serving (exact: same words; phrase: contiguous words;
    broad: all words present in any order)."""
    term, words = normalise_query(term_text), normalise_query(negative.text)
    match_type = negative.match_type.upper()
    if match_type == "EXACT":
        return term == words
    if match_type == "PHRASE":
        return contains_phrase(term, words)
    return bool(words) and set(words) <= set(term)


def _join(modifier: str, before: bool, root: str) -> str:
    return f"{modifier} {root}" if before else f"{root} {modifier}"


def _broad_variant(root: str, modifier: str) -> str:
    words = root.split()
    if len(words) >= 3:
        words = [words[0], words[-1]]
    elif len(words) == 2:
        words = [words[1], "for", words[0]]
    return f"{' '.join(words)} {modifier}"


def build_keywords_and_terms(
    rng: np.random.Generator, ad_set_id: str, theme: str, vertical: Vertical
) -> tuple[tuple[SimKeyword, ...], tuple[SearchTerm, ...]]:
    """Keywords (exact, phrase, broad on the theme) and the search-term universe of one ad group."""
    keywords = tuple(
        SimKeyword(f"{ad_set_id}-k{index + 1}", ad_set_id, theme, match_type)
        for index, match_type in enumerate(MATCH_TYPES)
    )
    exact_id, phrase_id, broad_id = (keyword.keyword_id for keyword in keywords)
    terms: list[SearchTerm] = [SearchTerm(theme, exact_id, 3.0, 1.15, 1.0, True)]

    relevant_count = int(rng.integers(5, 8))
    for index in rng.choice(len(vertical.relevant_modifiers), size=relevant_count, replace=False):
        modifier, before, cvr_factor = vertical.relevant_modifiers[int(index)]
        terms.append(
            SearchTerm(
                _join(modifier, before, theme),
                phrase_id,
                float(rng.lognormal(0.0, 0.5)),
                float(rng.uniform(0.8, 1.2)),
                float(cvr_factor * rng.lognormal(0.0, 0.15)),
                True,
            )
        )
    broad_modifier = vertical.relevant_modifiers[int(rng.integers(len(vertical.relevant_modifiers)))][0]
    terms.append(SearchTerm(_broad_variant(theme, broad_modifier), broad_id, float(rng.lognormal(-0.5, 0.4)), 0.8, 0.6, True))

    relevant_weight = sum(term.impression_weight for term in terms)
    irrelevant_share = float(rng.uniform(0.10, 0.30))
    irrelevant_count = int(rng.integers(3, 6))
    raw_weights = rng.lognormal(0.0, 0.4, size=irrelevant_count)
    scale = relevant_weight * irrelevant_share / (1.0 - irrelevant_share) / raw_weights.sum()
    for index, raw in zip(
        rng.choice(len(vertical.irrelevant_modifiers), size=irrelevant_count, replace=False), raw_weights, strict=True
    ):
        modifier, before = vertical.irrelevant_modifiers[int(index)]
        terms.append(
            SearchTerm(_join(modifier, before, theme), phrase_id, float(raw * scale), float(rng.uniform(0.6, 1.1)), 0.0, False)
        )
    return keywords, tuple(terms)
