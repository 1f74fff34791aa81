"""Negative keywords: statistical waste, PHRASE vs EXACT, patterns, and never blocking a converter."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.records import SearchTermRow
from policies.base import ConversionRevision
from policies.negative_keywords import blocks, propose_negative_keywords
from policies.settings import NegativeKeywordsSettings
from tests.unit.policies.builders import TODAY, entity, snapshot

# Conversions are mature: a flat revision history makes the lag curve 1 at every age.
MATURE = [ConversionRevision(TODAY - timedelta(days=d), age, 50.0, Decimal(500))
          for d in range(1, 40) for age in range(0, min(d, 28) + 1)]


def term(text: str, clicks: int, conversions: float = 0, spend: str = "1", campaign: str = "g1",
         days_ago: int = 3) -> SearchTermRow:
    return SearchTermRow("acct", campaign, "ag1", TODAY - timedelta(days=days_ago), text, clicks * 10, clicks,
                         Decimal(spend) * clicks, conversions, Decimal(conversions * 40))


def _account(terms: list[SearchTermRow], keywords: tuple[str, ...] = ("running shoes",)):
    entities = [entity("g1", level="campaign", parent=None, platform="google_ads"),
                entity("ag1", parent="g1", platform="google_ads")]
    entities += [entity(f"k{i}", level="keyword", parent="ag1", text=text, match_type="PHRASE")
                 for i, text in enumerate(keywords)]
    return snapshot(entities, search_terms=terms, conversion_revisions=MATURE)


def _negatives(proposals) -> list[tuple[str, str]]:
    return [(k["text"], k["match_type"]) for p in proposals for k in p.change["to"]["keywords"]]


def test_zero_conversions_must_also_be_unlikely_at_the_campaign_conversion_rate() -> None:
    # Campaign rate: 10 conversions on 200 clicks = 5%. 40 clicks without a conversion: P = e^-2 = 0.135,
    # not enough; 80 clicks: P = e^-4 = 0.018 <= 0.05, blocked as EXACT.
    base = [term("running shoes", 200 - 40, conversions=10)]
    assert _negatives(propose_negative_keywords(_account([*base, term("shoe repair", 40)]),
                                                NegativeKeywordsSettings())) == []
    base = [term("running shoes", 200 - 80, conversions=10)]
    (proposal,) = propose_negative_keywords(_account([*base, term("shoe repair", 80)]), NegativeKeywordsSettings())
    assert _negatives([proposal]) == [("shoe repair", "EXACT")]
    (item,) = proposal.evidence["negatives"]
    assert item["p_zero_conversions"] == round(math.exp(-80 * 10 / 200), 6)
    assert proposal.kind == "add_negative_keywords" and proposal.entity_id == "g1"
    assert proposal.change["to"]["list_name"] == "agent-negatives-g1"


def test_a_word_shared_by_wasteful_terms_becomes_one_phrase_negative() -> None:
    terms = [term("running shoes", 500, conversions=50), term("free running shoes", 40), term("free trail shoes", 40)]
    assert _negatives(propose_negative_keywords(_account(terms), NegativeKeywordsSettings())) == [("free", "PHRASE")]


def test_a_phrase_that_would_block_a_converting_term_falls_back_to_exact() -> None:
    terms = [term("running shoes", 500, conversions=50), term("free running shoes", 60), term("free trail shoes", 60),
             term("free shipping running shoes", 5, conversions=1)]
    negatives = _negatives(propose_negative_keywords(_account(terms), NegativeKeywordsSettings()))
    assert ("free", "PHRASE") not in negatives
    assert set(negatives) == {("free running shoes", "EXACT"), ("free trail shoes", "EXACT")}


def test_active_positive_keywords_are_never_blocked() -> None:
    terms = [term("running shoes", 500, conversions=50), term("trail shoes", 200)]
    negatives = _negatives(propose_negative_keywords(_account(terms, keywords=("running shoes", "trail shoes")),
                                                     NegativeKeywordsSettings()))
    assert negatives == []


def test_irrelevant_patterns_block_whatever_the_numbers() -> None:
    terms = [term("running shoes", 500, conversions=50), term("running shoes jobs", 2)]
    config = NegativeKeywordsSettings(irrelevant_patterns=[r"\bjobs?\b"])
    assert _negatives(propose_negative_keywords(_account(terms), config)) == [("jobs", "PHRASE")]


def test_existing_negatives_and_paused_campaigns_are_skipped() -> None:
    terms = [term("running shoes", 120, conversions=10), term("shoe repair", 80)]
    account = _account(terms)
    entities = dict(account.entities)
    entities["g1"] = entity("g1", level="campaign", parent=None, status="PAUSED")
    paused = snapshot(entities.values(), search_terms=terms, conversion_revisions=MATURE)
    assert propose_negative_keywords(paused, NegativeKeywordsSettings()) == []
    entities["g1"] = entity("g1", level="campaign", parent=None,
                            negative_keywords=[{"text": "shoe repair", "match_type": "EXACT"}])
    existing = snapshot(entities.values(), search_terms=terms, conversion_revisions=MATURE)
    assert propose_negative_keywords(existing, NegativeKeywordsSettings()) == []


WORDS = ["free", "cheap", "running", "trail", "shoes", "jobs", "repair", "kids"]


@settings(max_examples=80, deadline=None)
@given(st.lists(
    st.tuples(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), st.integers(1, 120), st.sampled_from([0, 0, 1, 3])),
    min_size=1, max_size=25,
), st.booleans())
def test_negatives_never_block_a_converting_term(raw_terms, with_pattern) -> None:
    terms = [term(" ".join(words), clicks, conversions=conversions) for words, clicks, conversions in raw_terms]
    config = NegativeKeywordsSettings(min_clicks=1, min_spend=Decimal(0), max_p_zero=1.0,
                                      irrelevant_patterns=[r"free|jobs"] if with_pattern else [])
    converting = {" ".join(w) for w, _, c in raw_terms if c > 0}
    for proposal in propose_negative_keywords(_account(terms, keywords=()), config):
        for negative in proposal.change["to"]["keywords"]:
            assert not any(blocks(text, negative["text"], negative["match_type"]) for text in converting)


def test_commercial_intent_needs_stronger_evidence_than_an_informational_term() -> None:
    # Campaign rate 5% a click; 60 clicks without a conversion: P(0) = e^-3 = 0.0498, under the 0.05 bar.
    base = [term("espresso machine", 140, conversions=10)]
    informational = _account([*base, term("history of coffee houses", 60)], keywords=("espresso machine",))
    (proposal,) = propose_negative_keywords(informational, NegativeKeywordsSettings())
    assert _negatives([proposal]) == [("history of coffee houses", "EXACT")]
    assert proposal.evidence["negatives"][0]["intent"] == "informational"
    # A buyer's query at the same evidence is kept: commercial intent is held to P(0) <= 0.01.
    buyer = _account([*base, term("buy coffee gift subscription", 60)], keywords=("espresso machine",))
    assert propose_negative_keywords(buyer, NegativeKeywordsSettings()) == []
    # ... until the evidence is strong: 100 clicks, P(0) = e^-5 = 0.0067.
    base = [term("espresso machine", 100, conversions=10)]
    strong = _account([*base, term("buy coffee gift subscription", 100)], keywords=("espresso machine",))
    (proposal,) = propose_negative_keywords(strong, NegativeKeywordsSettings())
    assert _negatives([proposal]) == [("buy coffee gift subscription", "EXACT")]
    assert "commercial intent: bar 0.01" in proposal.rationale


def test_a_product_word_from_the_account_keywords_or_brand_terms_marks_commercial_intent() -> None:
    base = [term("espresso machine", 140, conversions=10)]
    product = _account([*base, term("espresso descaling guide", 60)], keywords=("espresso machine",))
    assert propose_negative_keywords(product, NegativeKeywordsSettings()) == []
    brand = _account([*base, term("acme warranty", 60)], keywords=("espresso machine",))
    assert propose_negative_keywords(brand, NegativeKeywordsSettings(brand_terms=["Acme"])) == []
    assert _negatives(propose_negative_keywords(brand, NegativeKeywordsSettings())) == [("acme warranty", "EXACT")]
    # the stricter bar is a setting
    assert propose_negative_keywords(product, NegativeKeywordsSettings(commercial_max_p_zero=0.05)) != []
