"""Neutral copy templates per language, for the offline drafter when the account's own ads offer
too few pieces in the draft's language (a Japanese account whose ads were written in English).

They use the ad set's theme, the brand name, and two facts only when the account's own ads state
them: a percentage off and a rating (`Facts`). No price, discount, rating or promise the material
does not contain (the same rule the language model is given). Headlines are kept short enough for
Google's 30 columns where a CJK character counts as two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.copywriter.history import AdRecord
from agent.copywriter.language import base_code

_PERCENT_OFF = re.compile(r"(\d{1,2})\s?%\s*(?:off|rabatt|de réduction|de descuento|de dto|オフ|引き)"
                          r"|(?:save|spare|économisez|ahorra)\s+(\d{1,2})\s?%", re.IGNORECASE)
_RATING = re.compile(r"(?:rated|bewertet mit|noté|valorado con|評価)\s*(\d[.,]\d)|(\d[.,]\d)\s*(?:★|/\s*5|stars?)",
                     re.IGNORECASE)


@dataclass(frozen=True)
class Facts:
    """Language-neutral facts the account's ads state, best-clicked ad first."""

    percent: str | None = None  # "20%": a percentage off
    rating: str | None = None  # "4.8"

    @classmethod
    def found_in(cls, history: Sequence[AdRecord]) -> Facts:
        percent = rating = None
        for record in sorted(history, key=lambda r: (-r.ctr, r.ad_id)):
            text = record.text.all_text
            if percent is None and (match := _PERCENT_OFF.search(text)):
                percent = (match.group(1) or match.group(2)) + "%"
            if rating is None and (match := _RATING.search(text)):
                rating = match.group(1) or match.group(2)
        return cls(percent, rating)


@dataclass(frozen=True)
class Templates:
    headlines: tuple[str, ...]
    sentences: tuple[str, ...]  # description sentences, in reading order


TEMPLATES: dict[str, Templates] = {
    "en": Templates(
        headlines=("{Theme} for every day", "Discover {theme}", "Your new {theme}", "{Theme} by {brand}",
                   "{Theme}: {percent} off", "Rated {rating}: {Theme}"),
        sentences=("Find the {theme} that suits you.", "Rated {rating}.", "Now {percent} off.",
                   "Made for the way you work and live.",
                   "See the full range online.", "Take a closer look today."),
    ),
    "de": Templates(
        headlines=("{Theme} für jeden Tag", "{Theme} entdecken", "Ihr neues {theme}", "{Theme} von {brand}",
                   "{Theme}: {percent} Rabatt", "Bewertet mit {rating}"),
        sentences=("Finden Sie das passende {theme}.", "Bewertet mit {rating}.", "Jetzt {percent} Rabatt.",
                   "Gemacht für Ihren Alltag.",
                   "Entdecken Sie das ganze Sortiment online.", "Jetzt mehr erfahren."),
    ),
    "fr": Templates(
        headlines=("{Theme} au quotidien", "Découvrez {theme}", "Votre nouveau {theme}", "{Theme} par {brand}",
                   "{Theme} : {percent} de réduction", "Noté {rating} : {Theme}"),
        sentences=("Trouvez le {theme} qui vous convient.", "Noté {rating} par nos clients.",
                   "Profitez de {percent} de réduction.", "Pensé pour votre quotidien.",
                   "Découvrez toute la gamme en ligne.", "Plus d'informations dès aujourd'hui."),
    ),
    "es": Templates(
        headlines=("{Theme} para cada día", "Descubre {theme}", "Tu nuevo {theme}", "{Theme} de {brand}",
                   "{Theme} con {percent} de descuento", "Valorado con {rating}"),
        sentences=("Encuentra el {theme} ideal para ti.", "Valorado con {rating} por nuestros clientes.",
                   "Ahora con {percent} de descuento.", "Pensado para tu día a día.",
                   "Descubre toda la gama en línea.", "Infórmate hoy mismo."),
    ),
    "ja": Templates(
        headlines=("{theme}をチェック", "新しい{theme}", "{theme}を見つけよう", "{brand}の{theme}",
                   "{theme}が{percent}オフ", "評価{rating}の{theme}"),
        sentences=("あなたにぴったりの{theme}を見つけましょう。", "お客様の評価は{rating}です。", "今なら{percent}オフ。",
                   "毎日の暮らしのために作りました。",
                   "全ラインナップはオンラインで。", "詳しくはこちらをご覧ください。"),
    ),
}


def templates_for(language: str) -> Templates | None:
    return TEMPLATES.get(base_code(language))


def fill(template: str, theme: str, brand: str, facts: Facts = Facts()) -> str | None:
    """The template with the theme, brand and facts put in; None when it needs one that is missing."""
    needs = {"{brand}": brand.strip(), "{percent}": facts.percent, "{rating}": facts.rating}
    if any(slot in template and not value for slot, value in needs.items()):
        return None
    title = " ".join(word[:1].upper() + word[1:] for word in theme.split())
    return template.format(theme=theme, Theme=title[:1].upper() + title[1:], brand=brand,
                           percent=facts.percent or "", rating=facts.rating or "")
