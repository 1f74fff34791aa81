"""The offline drafter: new ads recombined from the account's own best-performing pieces.

No network, no randomness: the same history gives the same drafts. Headlines, description
sentences and CTA buttons of every ad become components, scored by how their ads did against
their siblings (sibling residual of log CTR, shrunk by one pseudo-ad at zero). A component that
names its ad set's theme is re-themed for the target ad set ("Trail Shoes — 20% off" becomes
"Running Jacket — 20% off"). Candidates that combine top components are ranked by the CTR model
(or by the components' scores) and the best ones that pass validation, and are not near-copies of
each other, are returned.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.copywriter.drafting import DraftRequest, DraftResult, Variant
from agent.copywriter.history import AdText
from agent.copywriter.language import base_code, detect_language, dominant_language, fits, joiner, script_of
from agent.copywriter.patterns import sibling_residuals
from agent.copywriter.templates import Facts, fill, templates_for
from agent.copywriter.text import char_count, clean, words
from agent.copywriter.validation import validate

LABEL = "offline"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*")
MIN_PIECES = 3  # fewer headlines or sentences than this in another language than the ads': templates fill in


@dataclass(frozen=True)
class Component:
    text: str
    source_theme: str
    score: float
    position: float  # mean position among its ad's sentences (0 = first), to keep a natural order


def _styled(target: str, sample: str) -> str:
    """`target` written in the letter case of `sample` (UPPER, Title Case, Sentence or lower)."""
    if sample.isupper():
        return target.upper()
    words = sample.split()
    if words and all(w[:1].isupper() for w in words):
        return " ".join(w[:1].upper() + w[1:] for w in target.split())
    if sample[:1].isupper():
        return target[:1].upper() + target[1:]
    return target.lower()


def rethemed(text: str, source_theme: str, target_theme: str) -> str:
    """`text` with its ad set's theme replaced by the target ad set's, keeping the case style."""
    if not source_theme.strip() or source_theme.casefold() == target_theme.casefold():
        return text
    if script_of(source_theme) in ("kana", "han"):  # no spaces between Japanese or Chinese words
        pattern = re.compile(re.escape(source_theme))
    else:
        pattern = re.compile(r"(?<!\w)" + re.escape(source_theme) + r"(?!\w)", re.IGNORECASE)
    return pattern.sub(lambda match: _styled(target_theme, match.group(0)), text)


def _components(pieces: Iterable[tuple[str, str, float, float]]) -> list[Component]:
    """Merge identical pieces: score = sum of residuals / (uses + 1)."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for text, theme, residual, position in pieces:
        entry = totals[(text, theme)]
        entry[0] += residual
        entry[1] += 1
        entry[2] += position
    merged = [Component(text, theme, total / (uses + 1), position / uses)
              for (text, theme), (total, uses, position) in totals.items()]
    return sorted(merged, key=lambda c: (-c.score, c.text))


def _rendered(components: Sequence[Component], target: str, limit: int, wide: bool, count: int) -> list[Component]:
    """The top `count` distinct components, re-themed, that fit `limit` characters."""
    seen: set[str] = set()
    result = []
    for component in components:
        text = clean(rethemed(component.text, component.source_theme, target))
        if not text or text.casefold() in seen or char_count(text, wide) > limit:
            continue
        seen.add(text.casefold())
        result.append(Component(text, target, component.score, component.position))
        if len(result) == count:
            break
    return result


def _in_language(headlines: list[tuple[str, str, float, float]], bodies: list[tuple[str, str, float, float]],
                 request: DraftRequest, theme: str) -> tuple[list[tuple[str, str, float, float]],
                                                             list[tuple[str, str, float, float]]]:
    """Only the pieces written in the request's language. The language's neutral templates fill in
    (scored below every real piece) when the ads are mostly in another language and fewer than
    MIN_PIECES headlines or sentences remain, or when fewer remain than the platform's ad needs
    (three headlines on Google): an account drafted in its own ads' language keeps its own words."""
    language = request.language or ""
    material = dominant_language(p[0] for p in headlines + bodies)
    foreign = material is None or base_code(material) != base_code(language)
    names = set(words(request.brand.name))

    def keeps(piece: tuple[str, str, float, float]) -> bool:
        if not foreign:
            return fits(piece[0], language, material)
        if script_of(piece[0]) is None or detect_language(piece[0]) == base_code(language):
            return fits(piece[0], language)
        # Ads in another language: an unrecognised piece is kept only if it is names and numbers
        # ("Running Jacket — 20%"), never a short sentence of that other language ("Clean ingredients.").
        known = names | set(words(piece[1])) | set(words(theme))
        return fits(piece[0], language) and all(w in known or any(c.isdigit() for c in w) for w in words(piece[0]))

    kept_headlines = [p for p in headlines if keeps(p)]
    kept_bodies = [p for p in bodies if keeps(p)]
    templates = templates_for(language)
    if templates is None:
        return kept_headlines, kept_bodies
    facts = Facts.found_in(request.history)
    floor = min((p[2] for p in headlines + bodies), default=0.0) - 1.0  # below every real piece

    def filled(items: Sequence[str]) -> list[str]:
        return [text for text in (fill(t, theme, request.brand.name, facts) for t in items) if text]

    limits, wide = request.limits, request.limits.wide_counts_double
    needed_headlines = MIN_PIECES if foreign else limits.headline.min_items
    needed_sentences = MIN_PIECES if foreign else limits.description.min_items
    if len(_rendered(_components(kept_headlines), theme, limits.headline.max_chars, wide, MIN_PIECES)) < needed_headlines:
        kept_headlines += [(text, theme, floor, float(i)) for i, text in enumerate(filled(templates.headlines))]
    if len(_rendered(_components(kept_bodies), theme, limits.description.max_chars, wide, MIN_PIECES)) < needed_sentences:
        sentences = filled(templates.sentences)
        kept_bodies += [(text, theme, floor, i / max(1, len(sentences) - 1)) for i, text in enumerate(sentences)]
    return kept_headlines, kept_bodies


class OfflineDrafter:
    """Deterministic drafts from the account's winning components."""

    label = LABEL

    def draft(self, request: DraftRequest) -> DraftResult:
        limits, target = request.limits, request.context.theme
        residuals = sibling_residuals(request.history)
        headline_pieces: list[tuple[str, str, float, float]] = []
        body_pieces: list[tuple[str, str, float, float]] = []
        ctas: dict[str, list[float]] = defaultdict(list)
        for record in request.history:
            residual = residuals.get(record.ad_id, 0.0)
            theme = request.themes.get(record.ad_set_id, "")
            headline_pieces += [(h, theme, residual, float(i)) for i, h in enumerate(record.text.headlines)]
            for description in record.text.descriptions:
                parts = [s for s in _SENTENCE_END.split(description) if s.strip()]
                if limits.description.max_items > 1:
                    body_pieces.append((description, theme, residual, 0.0))
                body_pieces += [(s, theme, residual, i / max(1, len(parts) - 1)) for i, s in enumerate(parts)]
            if record.text.call_to_action:
                ctas[record.text.call_to_action].append(residual)
        if request.language:
            headline_pieces, body_pieces = _in_language(headline_pieces, body_pieces, request, target)
        wide = limits.wide_counts_double
        headlines = _rendered(_components(headline_pieces), target, limits.headline.max_chars, wide, 7)
        sentences = _rendered(_components(body_pieces), target, limits.description.max_chars, wide, 7)
        cta = self._best_cta(ctas, limits.calls_to_action)
        candidates = [AdText(h, d, cta) for h, d in self._combinations(request, headlines, sentences)]
        ranked = sorted(candidates, key=lambda text: (-self._score(request, text, headlines + sentences),
                                                      text.all_text))
        chosen: list[Variant] = []
        note = "recombined from the account's best-performing headlines and sentences"
        if request.language:
            note += f", written in {request.language}"
        if request.segment:
            note += f", for segment {request.segment.label}"
        for text in ranked:
            variant = Variant(text.headlines, text.descriptions, text.call_to_action, LABEL, note)
            if not validate(variant, limits, request.brand, request.context.existing, chosen,
                            request.max_similarity):
                chosen.append(variant)
                if len(chosen) == request.count:
                    break
        return DraftResult(chosen)

    @staticmethod
    def _best_cta(ctas: dict[str, list[float]], allowed: Sequence[str]) -> str | None:
        if not allowed:
            return None
        scored = sorted((-(sum(v) / (len(v) + 1)), cta) for cta, v in ctas.items() if cta in allowed)
        return scored[0][1] if scored else allowed[0]

    @staticmethod
    def _combinations(request: DraftRequest, headlines: list[Component],
                      sentences: list[Component]) -> Iterable[tuple[tuple[str, ...], tuple[str, ...]]]:
        limits = request.limits
        wide, body_limit = limits.wide_counts_double, limits.description.max_chars
        if limits.headline.max_items > 1:  # responsive search ads: several headlines and descriptions
            sets = [c for size in (4, 3) for c in itertools.combinations(headlines[:6], size)
                    if size >= limits.headline.min_items]
            bodies = list(itertools.combinations(sentences[:5], limits.description.min_items))
            for heads, body in itertools.product(sets, bodies):
                yield tuple(h.text for h in heads), tuple(b.text for b in body)
            return
        texts: list[str] = []
        for size in (3, 2, 1):
            for combo in itertools.combinations(sentences[:6], size):
                ordered = sorted(combo, key=lambda c: (c.position, c.text))
                text = joiner(request.language or "").join(c.text for c in ordered)
                if char_count(text, wide) <= body_limit:
                    texts.append(text)
        for head, body_text in itertools.product(headlines[:6], texts):
            if head.text.rstrip(".!。！").casefold() in body_text.casefold():
                continue  # the body would only repeat the headline
            yield (head.text,), (body_text,)

    @staticmethod
    def _score(request: DraftRequest, text: AdText, components: list[Component]) -> float:
        if request.score is not None:
            return request.score(text)
        pieces = (*text.headlines, *text.descriptions)
        return sum(c.score for c in components if any(c.text in piece for piece in pieces))
