"""The difference-in-differences estimator recovers a planted effect on a synthetic panel."""

from __future__ import annotations

import numpy as np
import pytest

from policies.impact import EntityOutcome, PeriodTotals, estimate_effects


def synthetic_panel(planted_surplus_per_day: float, *, n: int = 300, share: float = 0.3,
                    seed: int = 1) -> list[EntityOutcome]:
    """Entities of very different sizes, a market-wide drift, noise; treated ones gain the planted surplus."""
    rng = np.random.default_rng(seed)
    panel = []
    for i in range(n):
        level = rng.lognormal(4, 0.8)  # daily spend
        roas = rng.uniform(0.8, 3.5)
        drift = 0.9  # the whole market falls 10% after the draw: only a comparison group sees it
        arm = "held_out" if rng.random() < share else "treated"
        pre_spend = level * 14 * rng.normal(1, 0.05)
        post_spend = level * 14 * drift * rng.normal(1, 0.05)
        pre_value, post_value = pre_spend * roas, post_spend * roas
        if arm == "treated":
            post_value += planted_surplus_per_day * 14  # surplus = value - 2 x spend; spend unchanged
        panel.append(EntityOutcome(f"e{i}", "pause", arm, PeriodTotals(14, pre_spend, pre_value / 50, pre_value),
                                   PeriodTotals(14, post_spend, post_value / 50, post_value)))
    return panel


@pytest.mark.parametrize("planted", [25.0, -10.0])
def test_the_estimate_recovers_a_planted_effect_and_its_interval_covers_it(planted: float) -> None:
    (effect,) = estimate_effects(synthetic_panel(planted), target_roas=2.0)
    assert effect.kind == "pause" and effect.metric == "surplus"
    assert effect.n_treated + effect.n_held_out == 300
    assert effect.effect_per_entity_day == pytest.approx(planted, abs=0.35 * abs(planted))
    assert effect.low_per_entity_day is not None and effect.high_per_entity_day is not None
    assert effect.low_per_entity_day < planted < effect.high_per_entity_day
    assert effect.effect_per_entity_day is not None
    assert effect.effect_per_month == pytest.approx(effect.effect_per_entity_day * 30.4375 * effect.n_treated)
    assert effect.harmful == (planted < 0 and effect.high is not None and effect.high < 0)


def test_the_same_panel_and_seed_give_the_same_interval() -> None:
    panel = synthetic_panel(5.0)
    assert estimate_effects(panel, target_roas=2.0, seed=4) == estimate_effects(panel, target_roas=2.0, seed=4)


def test_an_arm_too_small_gives_no_estimate_rather_than_a_made_up_one() -> None:
    panel = [o for o in synthetic_panel(5.0) if o.arm == "treated"][:10] + \
            [o for o in synthetic_panel(5.0) if o.arm == "held_out"][:1]
    (effect,) = estimate_effects(panel, target_roas=2.0)
    assert effect.effect_per_month is None and effect.low is None and not effect.harmful
