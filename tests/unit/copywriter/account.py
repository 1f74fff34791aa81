"""A synthetic Meta account whose ads' CTRs follow known rules, for copywriter tests.

Ads with a number are clicked 30% more than their siblings, shouting ads 30% less; everything
else is the ad set's base CTR. Clicks are exact expectations (no noise) unless `noise` is given.
"""

from __future__ import annotations

import math
from typing import Any

from connectors.records import Entity, MetricRow
from policies.base import Proposal, Snapshot
from tests.unit.policies.builders import entity, rows, snapshot

THEMES = ("trail running shoes", "running jacket", "compression socks", "road running shoes", "running shorts",
          "marathon shoes")
GOOD = ("{title} — 20% off this week", "Grip on any terrain. Rated 4.8 by 12k runners. 20% off this week ✨")
PLAIN = ("{title} for every run", "Lightweight comfort on every trail. Shop the new range.")
LOUD = ("STRIDE {upper}", "Check out our amazing {theme}!!! Best prices on the market!!!")
# The same account written in Japanese (sentences end with 。, no spaces between words).
THEMES_JA = ("トレイルランニングシューズ", "ランニングジャケット", "コンプレッションソックス", "ロードランニングシューズ",
             "ランニングショーツ", "マラソンシューズ")
GOOD_JA = ("{title}が今週20%オフ", "どんな道でもしっかりグリップ。1.2万人のランナーが4.8と評価。今週20%オフ。")
PLAIN_JA = ("毎日のランに{title}", "軽くて快適、どんなトレイルでも。新作をチェック。")
LOUD_JA = ("ストライド{upper}", "最高の{theme}をチェック!!! 最安値!!!")


def _title(theme: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in theme.split())


def ad_attributes(template: tuple[str, str], theme: str, cta: str = "SHOP_NOW") -> dict[str, Any]:
    headline, body = (t.format(title=_title(theme), upper=theme.upper(), theme=theme) for t in template)
    return {"headline": headline, "description": body, "primary_text": body, "call_to_action": cta}


def multiplier(template: tuple[str, str]) -> float:
    return {GOOD: 1.3, PLAIN: 1.0, LOUD: 0.7, GOOD_JA: 1.3, PLAIN_JA: 1.0, LOUD_JA: 0.7}[template]


def account(ad_sets: int = 6, days: int = 20, base_ctr: float = 0.012, noise: float = 0.0,
            platform: str = "meta", japanese: bool = False) -> tuple[Snapshot, dict[str, float]]:
    """The snapshot and each ad's true CTR."""
    entities: list[Entity] = [entity("c1", level="campaign", parent=None, platform=platform)]
    metric_rows: list[MetricRow] = []
    true_ctr: dict[str, float] = {}
    for index in range(ad_sets):
        theme = (THEMES_JA if japanese else THEMES)[index % len(THEMES)]
        ad_set_id = f"s{index + 1}"
        ctr_base = base_ctr * (1 + 0.15 * index)
        entities.append(entity(ad_set_id, parent="c1", budget="100", platform=platform, theme=theme))
        good, plain, loud = (GOOD_JA, PLAIN_JA, LOUD_JA) if japanese else (GOOD, PLAIN, LOUD)
        templates = (good, plain, loud) if index % 2 == 0 else (plain, loud, good)
        for number, template in enumerate(templates, start=1):
            ad_id = f"{ad_set_id}-a{number}"
            ctr = ctr_base * multiplier(template) * math.exp(noise * math.sin(7 * index + number))
            true_ctr[ad_id] = ctr
            entities.append(entity(ad_id, level="ad", parent=ad_set_id, platform=platform,
                                   **ad_attributes(template, theme)))
            metric_rows += rows(ad_id, days, spend=30, impressions=8000, clicks=round(8000 * ctr), level="ad")
        metric_rows += rows(ad_set_id, days, spend=90, impressions=24000,
                            clicks=round(8000 * ctr_base * 3.0), level="ad_set")
    return snapshot(entities, metric_rows), true_ctr


def refresh(snapshot: Snapshot, ad_id: str) -> Proposal:
    """A refresh_creative proposal like the creative-fatigue policy makes."""
    ad = snapshot.entities[ad_id]
    return Proposal(kind="refresh_creative", policy="creative_fatigue", account_id=snapshot.account_id,
                    entity_id=ad_id, entity_level="ad", entity_name=ad.name,
                    change={"from": {"status": "ACTIVE"}, "to": {"refresh_creative": True}},
                    rationale="CTR fell 40%", evidence={"relative_decline": 0.4, "frequency": 3.1})
