"""Negative keywords from the search-term report: stop paying for queries that never convert.

Per campaign, search terms are summed over the window. A term is wasteful when it has clicks and
spend past the thresholds, no conversion, and zero conversions is itself unlikely: with the
campaign's lag-completed conversion rate r, P(0 | clicks) = exp(-r * sum_d clicks_d * c(age_d))
must be <= `max_p_zero` (young clicks count less: their conversions may still come). Terms matching
a configured irrelevant pattern are wasteful whatever their numbers.

Intent: a term with commercial intent (a buying word such as "buy", "price" or "subscription", or a
product or brand word: the words of the account's active keywords and `brand_terms`) must pass the
stricter `commercial_max_p_zero`; a negative covering any such term is held to it. Blocking a buyer
on thin evidence costs sales; blocking a browser costs little.

EXACT vs PHRASE: a word or two-word phrase shared by `phrase_min_terms` wasteful terms, whose
terms together pass the same test and include no converting one, becomes one PHRASE negative (it
also blocks the variants not yet seen); a pattern match becomes a PHRASE on the matched words; any
other wasteful term is negated EXACT. Safety first: a negative is dropped if it would block a term
that converted anywhere in the account or an active positive keyword of the campaign.

One proposal per campaign (entity = the campaign), for a list named `agent-negatives-<campaign>`:
campaign-level lists keep each campaign's economics separate and are easy to review and undo.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from policies.base import Proposal, Snapshot
from policies.conversion_lag import lag_curve
from policies.money import money_str
from policies.protection import may_change
from policies.settings import NegativeKeywordsSettings

POLICY_NAME = "negative_keywords"
STOPWORDS = frozenset({"a", "an", "the", "for", "to", "of", "in", "on", "and", "with", "by", "at", "is", "my", "me", "or"})


def words_of(text: str) -> tuple[str, ...]:
    """Lower-case words, the unit negatives match on."""
    return tuple(text.lower().split())


def contains_phrase(term: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """True if `phrase` occurs as contiguous words in `term`."""
    width = len(phrase)
    return width > 0 and any(term[i:i + width] == phrase for i in range(len(term) - width + 1))


def blocks(term: str, negative_text: str, match_type: str) -> bool:
    """Would the negative stop `term` from serving? (EXACT: same words; PHRASE: contiguous words.)"""
    term_words, negative_words = words_of(term), words_of(negative_text)
    if match_type == "EXACT":
        return term_words == negative_words
    if match_type == "PHRASE":
        return contains_phrase(term_words, negative_words)
    return bool(negative_words) and set(negative_words) <= set(term_words)


@dataclass
class _Term:
    text: str
    clicks: int = 0
    impressions: int = 0
    spend: Decimal = Decimal(0)
    conversions: float = 0.0
    lag_weighted_clicks: float = 0.0
    ad_groups: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Negative:
    text: str
    match_type: str
    covered: tuple[_Term, ...]
    reason: str


def _p_zero(terms: tuple[_Term, ...] | list[_Term], rate: float) -> float:
    return math.exp(-rate * sum(t.lag_weighted_clicks for t in terms))


def commercial_vocabulary(snapshot: Snapshot, settings: NegativeKeywordsSettings) -> frozenset[str]:
    """Words that mark commercial intent: the buying words, `brand_terms` and the words of the
    account's active positive keywords (its products and brands), stopwords left out."""
    words = {w for w in settings.commercial_words for w in words_of(w)}
    words |= {w for phrase in settings.brand_terms for w in words_of(phrase)}
    words |= {w for e in snapshot.entities.values() if e.level == "keyword" and e.status == "ACTIVE"
              for w in words_of(str(e.attributes.get("text", "")))}
    return frozenset(words - STOPWORDS)


class _CampaignTerms:
    def __init__(self, snapshot: Snapshot, campaign_id: str, terms: dict[str, _Term]) -> None:
        self.snapshot, self.campaign_id, self.terms = snapshot, campaign_id, terms
        ad_groups = {e.entity_id for e in snapshot.entities.values() if e.parent_id == campaign_id}
        self.positive_keywords = [
            (str(e.attributes.get("text", "")), str(e.attributes.get("match_type", "BROAD")).upper())
            for e in snapshot.entities.values()
            if e.level == "keyword" and e.status == "ACTIVE" and e.parent_id in ad_groups
        ]

    def safe(self, text: str, match_type: str, converting: list[str]) -> bool:
        """The negative blocks no converting term and no active positive keyword."""
        if any(blocks(term, text, match_type) for term in converting):
            return False
        return not any(blocks(keyword, text, match_type) for keyword, _ in self.positive_keywords if keyword)


def _aggregate(snapshot: Snapshot, settings: NegativeKeywordsSettings) -> dict[str, dict[str, _Term]]:
    curve = lag_curve(snapshot)
    start = snapshot.today - timedelta(days=settings.window_days)
    by_campaign: dict[str, dict[str, _Term]] = defaultdict(dict)
    for row in snapshot.search_terms:
        if not (start <= row.day < snapshot.today):
            continue
        key = " ".join(words_of(row.search_term))
        term = by_campaign[row.campaign_id].setdefault(key, _Term(key))
        term.clicks += row.clicks
        term.impressions += row.impressions
        term.spend += row.spend
        term.conversions += row.conversions
        term.lag_weighted_clicks += row.clicks * curve.for_day(row.day, snapshot.today)
        term.ad_groups.add(row.ad_group_id)
    return by_campaign


def _existing_negatives(snapshot: Snapshot, campaign_id: str) -> list[dict[str, str]]:
    campaign = snapshot.entities.get(campaign_id)
    return list(campaign.attributes.get("negative_keywords", ())) if campaign else []


def is_commercial(term: str, commercial: frozenset[str]) -> bool:
    """Does the term carry commercial intent (any of its words in `commercial`)?"""
    return any(word in commercial for word in words_of(term))


def _pattern_negatives(terms: list[_Term], patterns: list[re.Pattern[str]]) -> list[_Negative]:
    negatives = []
    for term in terms:
        for pattern in patterns:
            match = pattern.search(term.text)
            if not match:
                continue
            # Widen the match to whole words: a negative is made of words, not characters.
            spans = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"\S+", term.text)]
            phrase = " ".join(word for begin, end, word in spans if begin < match.end() and end > match.start())
            negatives.append(_Negative(phrase or term.text, "PHRASE", (term,), f"matches pattern {pattern.pattern!r}"))
            break
    return negatives


def _plan_campaign(campaign: _CampaignTerms, settings: NegativeKeywordsSettings, rate: float,
                   converting: list[str], commercial: frozenset[str]) -> list[_Negative]:
    terms = sorted(campaign.terms.values(), key=lambda t: (-t.spend, t.text))
    patterns = [re.compile(p, re.IGNORECASE) for p in settings.irrelevant_patterns]
    chosen: list[_Negative] = []
    covered: set[str] = set()
    for negative in _pattern_negatives([t for t in terms if t.conversions <= 0], patterns):
        if campaign.safe(negative.text, "PHRASE", converting):
            chosen.append(negative)
        elif campaign.safe(negative.covered[0].text, "EXACT", converting):
            chosen.append(_Negative(negative.covered[0].text, "EXACT", negative.covered, negative.reason))
        else:
            continue
        covered.update(t.text for t in negative.covered)

    def passes(group: list[_Term]) -> bool:
        clicks = sum(t.clicks for t in group)
        spend = sum((t.spend for t in group), Decimal(0))
        bar = settings.commercial_max_p_zero if any(is_commercial(t.text, commercial) for t in group) \
            else settings.max_p_zero
        return (clicks >= settings.min_clicks and spend >= settings.min_spend
                and all(t.conversions <= 0 for t in group) and rate > 0 and _p_zero(group, rate) <= bar)

    wasteful = [t for t in terms if t.text not in covered and t.conversions <= 0 and t.clicks > 0]
    grams: dict[tuple[str, ...], list[_Term]] = defaultdict(list)
    for term in wasteful:
        words = words_of(term.text)
        for size in (2, 1):
            for i in range(len(words) - size + 1):
                gram = words[i:i + size]
                if not set(gram) <= STOPWORDS and term not in grams[gram]:
                    grams[gram].append(term)
    ranked = sorted(grams.items(), key=lambda item: (-sum(t.spend for t in item[1]), -len(item[0]), item[0]))
    for gram, _ in ranked:
        text = " ".join(gram)
        group = [t for t in campaign.terms.values() if contains_phrase(words_of(t.text), gram)]
        fresh = [t for t in group if t.text not in covered]
        if len(fresh) < settings.phrase_min_terms or not passes(group):
            continue
        if not campaign.safe(text, "PHRASE", converting):
            continue
        chosen.append(_Negative(text, "PHRASE", tuple(group), f"shared by {len(group)} non-converting terms"))
        covered.update(t.text for t in group)
    for term in wasteful:
        if term.text in covered or not passes([term]) or not campaign.safe(term.text, "EXACT", converting):
            continue
        chosen.append(_Negative(term.text, "EXACT", (term,), "no conversion past the thresholds"))
        covered.add(term.text)
    return chosen


def propose_negative_keywords(snapshot: Snapshot, settings: NegativeKeywordsSettings) -> list[Proposal]:
    """add_negative_keywords proposals, one per campaign, for wasteful or irrelevant search terms."""
    if not settings.enabled or not snapshot.search_terms:
        return []
    by_campaign = _aggregate(snapshot, settings)
    # Every term that ever converted, inside the window or not, is off limits.
    converting = sorted({" ".join(words_of(r.search_term)) for r in snapshot.search_terms if r.conversions > 0})
    account_clicks = sum(t.lag_weighted_clicks for terms in by_campaign.values() for t in terms.values())
    account_conversions = sum(t.conversions for terms in by_campaign.values() for t in terms.values())
    currency = snapshot.currency
    commercial = commercial_vocabulary(snapshot, settings)
    proposals = []
    for campaign_id in sorted(by_campaign):
        entity = snapshot.entities.get(campaign_id)
        if entity is None or not may_change(snapshot, campaign_id):
            continue
        terms = by_campaign[campaign_id]
        clicks = sum(t.lag_weighted_clicks for t in terms.values())
        conversions = sum(t.conversions for t in terms.values())
        # A campaign without conversions borrows the account's rate; with none at all, judge nothing.
        rate = conversions / clicks if conversions > 0 and clicks > 0 else (
            account_conversions / account_clicks if account_clicks > 0 else 0.0)
        campaign = _CampaignTerms(snapshot, campaign_id, terms)
        existing = {(str(n.get("text", "")).lower(), str(n.get("match_type", "")).upper())
                    for n in _existing_negatives(snapshot, campaign_id)}
        negatives = [n for n in _plan_campaign(campaign, settings, rate, converting, commercial)
                     if (n.text, n.match_type) not in existing][: settings.max_keywords_per_proposal]
        if not negatives:
            continue
        list_name = f"agent-negatives-{campaign_id}"
        wasted = sum((t.spend for n in negatives for t in n.covered), Decimal(0))
        items = [
            {"text": n.text, "match_type": n.match_type, "reason": n.reason,
             "terms": [t.text for t in n.covered], "clicks": sum(t.clicks for t in n.covered),
             "spend": money_str(sum((t.spend for t in n.covered), Decimal(0)), currency),
             "p_zero_conversions": round(_p_zero(n.covered, rate), 6),
             "intent": "commercial" if any(is_commercial(t.text, commercial) for t in n.covered) else "informational"}
            for n in negatives
        ]
        summary = "; ".join(f"{n.match_type} \"{n.text}\" ({i['clicks']} clicks, {i['spend']} {currency}, "
                            f"P(0 conv) = {i['p_zero_conversions']:.3f}, {i['intent']} intent: bar "
                            f"{settings.commercial_max_p_zero if i['intent'] == 'commercial' else settings.max_p_zero:g})"
                            for n, i in zip(negatives, items, strict=True))
        proposals.append(Proposal.about(
            snapshot.account_id, entity,
            kind="add_negative_keywords",
            policy=POLICY_NAME,
            change={"from": {"list_name": list_name, "keywords": []},
                    "to": {"list_name": list_name,
                           "keywords": [{"text": n.text, "match_type": n.match_type} for n in negatives]}},
            rationale=(
                f"{len(negatives)} negative keyword(s) for search terms that cost {money_str(wasted, currency)} "
                f"{currency} over the last {settings.window_days} days without a conversion, at a campaign "
                f"conversion rate of {rate:.2%} per click: {summary}. None blocks a converting term or an "
                f"active keyword."
            ),
            evidence={
                "window_days": settings.window_days,
                "campaign_conversion_rate": round(rate, 6),
                "wasted_spend": money_str(wasted, currency),
                "negatives": items,
                "max_p_zero": {"informational": settings.max_p_zero, "commercial": settings.commercial_max_p_zero},
                "test": "zero conversions with P(0 | clicks, lag-completed rate) <= max_p_zero (stricter for "
                "commercial intent), or pattern",
            },
        ))
    return proposals
