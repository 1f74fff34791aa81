"""Winning creative patterns: what the account's better-clicked ads have that the others lack.

Ads are compared only with their siblings in the same ad set (same audience, same keywords, same
budget), so a pattern is credited for lifting CTR within an ad set, not for sitting in a good one.
For each candidate pattern (a feature such as "has a number", a word or two-word phrase, a CTA
button) and each ad set where some ads have it and some do not, the difference in mean log CTR is
taken; differences are pooled across ad sets with weights n1 n0 / (n1 + n0), and judged against
the spread of log CTR between sibling ads. Only patterns seen on at least `min_ads` ads on each
side with |z| >= `min_z` are reported.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from agent.copywriter.features import FEATURE_MEANINGS, FEATURE_NAMES
from agent.copywriter.history import AdRecord
from agent.copywriter.text import is_cjk, phrase_runs

STOPWORDS = frozenset({
    "a", "an", "and", "the", "of", "to", "in", "on", "for", "with", "by", "at", "is", "it", "our", "we", "or",
    "be", "are", "this", "that", "from", "as", "more",
})
_KINDS = {
    "theme_in_headline": "theme", "has_number": "numbers", "offer": "offer", "cta_verb": "cta",
    "urgency_one": "urgency", "urgency_many": "urgency", "second_person": "tone", "social_proof": "proof",
    "question": "question", "headline_fill": "length", "headline_short": "length", "description_fill": "length",
    "description_short": "length", "shouting": "tone", "exclamations": "tone", "emoji_one": "emoji",
    "emoji_many": "emoji", "professional": "tone", "brand_in_headline": "brand",
}


@dataclass(frozen=True)
class Contrast:
    """Pooled within-ad-set difference in log CTR between ads with and without a component."""

    log_lift: float
    variance: float
    ads_with: int
    ads_without: int

    @property
    def z(self) -> float:
        return self.log_lift / math.sqrt(self.variance) if self.variance > 0 else 0.0


@dataclass(frozen=True)
class Pattern:
    """A component that separates winners from losers, with its evidence."""

    name: str
    kind: str  # theme, numbers, offer, cta, urgency, tone, proof, question, length, emoji, ngram, cta_button
    description: str
    ctr_lift: float  # relative CTR difference, e.g. 0.12 = ads with it are clicked 12% more
    z: float
    ads_with: int
    ads_without: int
    same_ads_as: tuple[str, ...] = ()  # other patterns found on exactly the same ads

    @property
    def winning(self) -> bool:
        return self.ctr_lift > 0

    def as_evidence(self) -> dict[str, Any]:
        return {"pattern": self.name, "kind": self.kind, "meaning": self.description,
                "ctr_lift": round(self.ctr_lift, 4), "z": round(self.z, 2),
                "ads_with": self.ads_with, "ads_without": self.ads_without,
                **({"same_ads_as": list(self.same_ads_as)} if self.same_ads_as else {})}


def sibling_residuals(records: Sequence[AdRecord]) -> dict[str, float]:
    """Each ad's log CTR minus its ad set's mean (ad sets with at least two ads only)."""
    groups: dict[str, list[AdRecord]] = defaultdict(list)
    for record in records:
        groups[record.ad_set_id].append(record)
    residuals = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        mean = sum(m.log_ctr for m in members) / len(members)
        residuals.update({m.ad_id: m.log_ctr - mean for m in members})
    return residuals


def sibling_variance(records: Sequence[AdRecord], residuals: Mapping[str, float]) -> float:
    """Variance of log CTR between sibling ads (unbiased for the ad-set means taken out)."""
    groups = {r.ad_set_id for r in records if r.ad_id in residuals}
    count = len(residuals)
    if count - len(groups) <= 0:
        return 0.0
    return sum(value * value for value in residuals.values()) / (count - len(groups))


def contrast(records: Sequence[AdRecord], residuals: Mapping[str, float], has: Callable[[AdRecord], bool],
             spread: float) -> Contrast | None:
    """Pooled with-minus-without difference of sibling residuals; None when no ad set has both."""
    groups: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for record in records:
        if record.ad_id in residuals:
            groups[record.ad_set_id][0 if has(record) else 1].append(residuals[record.ad_id])
    total_weight = weighted = 0.0
    ads_with = ads_without = 0
    for with_, without in groups.values():
        if not with_ or not without:
            continue
        weight = len(with_) * len(without) / (len(with_) + len(without))
        weighted += weight * (sum(with_) / len(with_) - sum(without) / len(without))
        total_weight += weight
        ads_with += len(with_)
        ads_without += len(without)
    if total_weight == 0:
        return None
    return Contrast(weighted / total_weight, spread / total_weight, ads_with, ads_without)


def _particle(token: str) -> bool:
    """A Japanese particle or ending (が, の, と, から): one or two hiragana, no phrase of its own."""
    return len(token) <= 2 and all("\u3040" <= c <= "\u309f" for c in token)


def candidate_phrases(*texts: str) -> set[str]:
    """Words and two-word phrases of `texts` that a pattern may name: phrases stay inside one
    headline or description and inside one run of words without punctuation (text.phrase_runs)."""
    grams: set[str] = set()
    for text in texts:
        for tokens in phrase_runs(text):
            grams |= {t for t in tokens if t not in STOPWORDS and len(t) > 1 and not _particle(t)}
            grams |= {a + ("" if is_cjk(a) or is_cjk(b) else " ") + b for a, b in zip(tokens, tokens[1:], strict=False)
                      if not (a in STOPWORDS and b in STOPWORDS) and not _particle(a) and not _particle(b)}
    return grams


def feature_threshold(name: str) -> float:
    """Continuous features count as present above this value (indicators above 0)."""
    return 0.5 if name.endswith("_fill") or name == "theme_in_headline" else 0.0


def _has_feature(features: Mapping[str, Mapping[str, float]], name: str) -> Callable[[AdRecord], bool]:
    threshold = feature_threshold(name)
    return lambda record: features[record.ad_id][name] > threshold


def _has_gram(grams_of: Mapping[str, set[str]], gram: str) -> Callable[[AdRecord], bool]:
    return lambda record: gram in grams_of[record.ad_id]


def _has_cta(cta: str) -> Callable[[AdRecord], bool]:
    return lambda record: record.text.call_to_action == cta


def find_patterns(records: Sequence[AdRecord], features: Mapping[str, Mapping[str, float]],
                  min_ads: int = 3, min_z: float = 2.0, max_patterns: int = 12) -> list[Pattern]:
    """Patterns with enough evidence, strongest first. `features` maps ad id -> its text features."""
    residuals = sibling_residuals(records)
    spread = sibling_variance(records, residuals)
    if spread <= 0:
        return []
    candidates: list[tuple[str, str, str, Callable[[AdRecord], bool]]] = []
    for name in FEATURE_NAMES:
        candidates.append((name, _KINDS[name], FEATURE_MEANINGS[name], _has_feature(features, name)))
    gram_counts: dict[str, int] = defaultdict(int)
    grams_of = {r.ad_id: candidate_phrases(*r.text.headlines, *r.text.descriptions) for r in records}
    for grams in grams_of.values():
        for gram in grams:
            gram_counts[gram] += 1
    for gram in sorted(g for g, count in gram_counts.items() if count >= min_ads):
        candidates.append((f'"{gram}"', "ngram", f"the words “{gram}”", _has_gram(grams_of, gram)))
    for cta in sorted({r.text.call_to_action for r in records if r.text.call_to_action}):
        candidates.append((f"CTA {cta}", "cta_button", f"the {cta} button", _has_cta(cta)))
    found: dict[frozenset[str], Pattern] = {}  # one pattern per set of ads: the first named (features first)
    aliases: dict[frozenset[str], list[str]] = defaultdict(list)
    for name, kind, meaning, has in candidates:
        result = contrast(records, residuals, has, spread)
        if result is None or min(result.ads_with, result.ads_without) < min_ads or abs(result.z) < min_z:
            continue
        members = frozenset(r.ad_id for r in records if r.ad_id in residuals and has(r))
        if members in found:
            aliases[members].append(name)
            continue
        found[members] = Pattern(name, kind, meaning, math.exp(result.log_lift) - 1, result.z,
                                 result.ads_with, result.ads_without)
    patterns = [replace(p, same_ads_as=tuple(aliases[m][:4])) for m, p in found.items()]
    patterns.sort(key=lambda p: (-abs(p.z), p.name))
    return patterns[:max_patterns]
