"""The bootstrap over whole campaigns: on a panel where a campaign's entities share a shock and
treated campaign-mates change a held-out entity's outcome, randomizing campaigns and resampling them
recovers a planted effect that randomizing entities gets wrong."""

from __future__ import annotations

import numpy as np
import pytest

from policies.impact import EntityOutcome, KindEffect, PeriodTotals, estimate_kind

PLANTED = 25.0  # surplus per treated entity and day
SPILL = 20.0  # surplus per day a held-out entity gains when all its campaign-mates are treated


def clustered_panel(*, per_campaign: bool, clusters: int = 120, share: float = 0.3, shock: float = 0.0,
                    seed: int = 1, label_clusters: bool = True) -> list[EntityOutcome]:
    rng = np.random.default_rng(seed)
    panel = []
    for c in range(clusters):
        size = int(rng.integers(2, 6))
        campaign_shock = rng.normal(0, shock) * 14  # the campaign's own market after the draw
        campaign_held = rng.random() < share
        arms = ["held_out" if (campaign_held if per_campaign else rng.random() < share) else "treated"
                for _ in range(size)]
        for i, arm in enumerate(arms):
            level = rng.lognormal(4, 0.8)
            roas = rng.uniform(0.8, 3.5)
            pre_spend, post_spend = level * 14 * rng.normal(1, 0.05), level * 14 * 0.9 * rng.normal(1, 0.05)
            pre_value, post_value = pre_spend * roas, post_spend * roas + campaign_shock
            mates = [a for j, a in enumerate(arms) if j != i]
            if arm == "treated":
                post_value += PLANTED * 14
            else:  # interference: budget the treated neighbours win or free reaches this entity too
                post_value += SPILL * sum(a == "treated" for a in mates) / len(mates) * 14
            panel.append(EntityOutcome(f"c{c}/e{i}", "set_budget", arm, PeriodTotals(14, pre_spend, 0.0, pre_value),
                                       PeriodTotals(14, post_spend, 0.0, post_value),
                                       cluster=f"c{c}" if label_clusters and per_campaign else None))
    return panel


def estimate(panel: list[EntityOutcome], seed: int = 0) -> KindEffect:
    return estimate_kind("set_budget", panel, target_roas=2.0, metric="surplus", seed=seed)


def test_randomizing_campaigns_recovers_the_effect_that_randomizing_entities_misses() -> None:
    by_entity = estimate(clustered_panel(per_campaign=False))
    assert by_entity.high_per_entity_day is not None and by_entity.effect_per_entity_day is not None
    # held-out entities with treated neighbours gained too: the difference understates the effect
    assert by_entity.high_per_entity_day < PLANTED
    assert by_entity.effect_per_entity_day < PLANTED - 0.5 * SPILL

    by_campaign = estimate(clustered_panel(per_campaign=True))
    assert by_campaign.low_per_entity_day is not None and by_campaign.high_per_entity_day is not None
    assert by_campaign.low_per_entity_day < PLANTED < by_campaign.high_per_entity_day
    assert by_campaign.effect_per_entity_day == pytest.approx(PLANTED, abs=3.0)


def test_the_counts_are_per_entity_and_per_campaign() -> None:
    panel = clustered_panel(per_campaign=True, clusters=30)
    found = estimate(panel)
    held = [o for o in panel if o.arm == "held_out"]
    assert found.n_held_out == len(held)
    assert found.n_held_out_clusters == len({o.cluster for o in held}) < found.n_held_out
    assert found.n_treated_clusters == len({o.cluster for o in panel if o.arm == "treated"})
    # one held-out campaign is not enough, however many entities it has
    one_held = [o for o in panel if o.arm == "treated" or o.cluster == held[0].cluster]
    assert estimate(one_held).effect_per_entity_day is None


def test_the_campaign_bootstrap_covers_where_campaigns_share_a_shock_and_the_entity_bootstrap_does_not() -> None:
    """Arms drawn per campaign, each campaign's entities moved together by a shock: resampling whole
    campaigns gives intervals that hold the planted effect about 90% of the time; resampling entities
    as if they were independent gives intervals too narrow."""
    covered = {True: 0, False: 0}
    for replication in range(60):
        for whole in (True, False):
            panel = clustered_panel(per_campaign=True, clusters=60, shock=40.0, seed=100 + replication,
                                    label_clusters=whole)
            found = estimate(panel, seed=replication)
            assert found.low_per_entity_day is not None and found.high_per_entity_day is not None
            covered[whole] += found.low_per_entity_day <= PLANTED <= found.high_per_entity_day
    assert covered[True] >= 0.8 * 60
    assert covered[False] <= covered[True] - 6
