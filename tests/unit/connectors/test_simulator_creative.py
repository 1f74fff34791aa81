"""The hidden creative score: deterministic, bounded, and rewarding what copywriters believe works."""

from __future__ import annotations

import numpy as np

from connectors.simulator.creative import (
    MULTIPLIER_RANGE,
    creative_attributes,
    ctr_multiplier,
    generate_creative,
)
from connectors.simulator.verticals import VERTICALS

THEME = "trail running shoes"


def test_the_score_is_deterministic_and_bounded() -> None:
    args = ("meta", ["Trail Running Shoes — 20% off"], ["Grip on any terrain. Rated 4.8 by 12k runners."], THEME)
    assert ctr_multiplier(*args) == ctr_multiplier(*args)
    low, high = MULTIPLIER_RANGE
    assert low <= ctr_multiplier(*args) <= high


def test_relevant_concrete_copy_beats_vague_shouting_copy() -> None:
    good = ctr_multiplier("google_ads", ["Trail Running Shoes", "Shop 20% Off Today"],
                          ["Grip on any terrain. Free 60-day returns on your order."], THEME)
    bad = ctr_multiplier("google_ads", ["QUALITY PRODUCTS!!", "Click Here"],
                         ["We sell things. Visit our website for more information."], THEME)
    assert good > 1.0 > bad


def test_emoji_walls_hurt_on_linkedin() -> None:
    plain = ctr_multiplier("linkedin", ["Get the 2025 phishing benchmark"], ["See how security teams cut risk."], "")
    shouty = ctr_multiplier("linkedin", ["Get the 2025 phishing benchmark"], ["🚀🚀 See how security teams cut risk."], "")
    assert shouty < plain


def test_generated_copy_spreads_around_an_average_ad() -> None:
    rng = np.random.default_rng(0)
    scores = []
    for index in range(300):
        vertical = VERTICALS[index % len(VERTICALS)]
        theme = vertical.product_lines[0].themes[0]
        platform = ("google_ads", "meta", "linkedin")[index % 3]
        creative = generate_creative(rng, platform, vertical, theme, "EUR")
        scores.append(ctr_multiplier(platform, creative.headlines, creative.descriptions, theme))
        attributes = creative_attributes(platform, creative)
        assert attributes["headline"] == creative.headlines[0] and attributes["description"]
    assert 0.8 < float(np.median(scores)) < 1.25
    assert max(scores) / min(scores) > 1.5
