"""What the agent's actions caused: difference-in-differences of treated vs held-out entities.

For each entity in an experiment, the change in its daily outcome from its own pre-period (the
horizon's length before the draw) to the post-period (the horizon after it) is
    d_i = post_i / post_days_i - pre_i / pre_days_i .
Per action kind, the effect per entity and day is mean(d | treated) - mean(d | held out): each
entity is its own baseline (level differences cancel), and the held-out entities carry what would
have happened anyway (seasonality, the market, the platform's learning), since the arm was drawn at
random. Interval: percentile bootstrap over the units of randomization (entities, or whole campaigns
where the arm was drawn per campaign), resampling each arm on its own (stratified),
each arm's resampled means spread by sqrt(n / (n - 1)) (the "expanded" bootstrap, which corrects the
plain bootstrap's too-small variance in small arms), with a seeded generator, so the same panel
always gives the same interval.

`effect_per_month` scales the effect per entity and day to what the treated entities earned in an
average month (x 30.4375 days x n_treated). Metrics: surplus = value - target_roas x spend (money
above what the spend had to earn), spend, conversions, value.

Assumptions (docs/experiments.md): entities do not affect each other (no budget moved between a
treated and a held-out entity of one campaign), and the arm was drawn before the outcome.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METRICS = ("surplus", "spend", "conversions", "value")
DAYS_PER_MONTH = 30.4375
MIN_PER_ARM = 2  # below this an arm has no spread to bootstrap


@dataclass(frozen=True)
class PeriodTotals:
    """One entity's totals over a period of `days` days."""

    days: int
    spend: float
    conversions: float
    value: float

    def per_day(self, metric: str, target_roas: float) -> float:
        if self.days <= 0:
            return 0.0
        figures = {"spend": self.spend, "conversions": self.conversions, "value": self.value,
                   "surplus": self.value - target_roas * self.spend}
        return figures[metric] / self.days


@dataclass(frozen=True)
class EntityOutcome:
    """One entity in one experiment: its arm and its totals before and after the draw."""

    entity_id: str
    kind: str
    arm: str  # "treated" or "held_out"
    pre: PeriodTotals
    post: PeriodTotals
    cluster: str | None = None  # the campaign whose draw gave the arm; None when the entity drew its own

    def change(self, metric: str, target_roas: float) -> float:
        return self.post.per_day(metric, target_roas) - self.pre.per_day(metric, target_roas)


@dataclass(frozen=True)
class KindEffect:
    """The estimated effect of one action kind on one metric."""

    kind: str
    metric: str
    n_treated: int
    n_held_out: int
    effect_per_entity_day: float | None
    low_per_entity_day: float | None
    high_per_entity_day: float | None
    standard_error: float | None
    effect_per_month: float | None
    low: float | None
    high: float | None
    n_treated_clusters: int = 0  # units of randomization (campaigns, or entities drawn alone) per arm
    n_held_out_clusters: int = 0

    @property
    def harmful(self) -> bool:
        """The whole interval lies below zero: the kind's actions cost more than they earned."""
        return self.high is not None and self.high < 0


def estimate_effects(outcomes: Sequence[EntityOutcome], *, target_roas: float, metric: str = "surplus",
                     confidence: float = 0.9, replications: int = 2000, seed: int = 0) -> list[KindEffect]:
    """One effect per action kind, kinds in name order."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")
    by_kind: dict[str, list[EntityOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.kind].append(outcome)
    return [estimate_kind(kind, by_kind[kind], target_roas=target_roas, metric=metric, confidence=confidence,
                          replications=replications, seed=seed) for kind in sorted(by_kind)]


def estimate_kind(kind: str, outcomes: Sequence[EntityOutcome], *, target_roas: float, metric: str,
                  confidence: float = 0.9, replications: int = 2000, seed: int = 0) -> KindEffect:
    """The kind's effect per entity and day, mean(d | treated) - mean(d | held out), and its interval
    from a bootstrap over the units of randomization: entities, or whole campaigns for entities drawn
    with their campaign (an entity drawn alone is a cluster of one). An arm needs 2 units."""
    treated = _clusters([o for o in outcomes if o.arm == "treated"], metric, target_roas)
    held_out = _clusters([o for o in outcomes if o.arm == "held_out"], metric, target_roas)
    n_treated, n_held_out = sum(len(c) for c in treated), sum(len(c) for c in held_out)
    if len(treated) < MIN_PER_ARM or len(held_out) < MIN_PER_ARM:
        return KindEffect(kind, metric, n_treated, n_held_out, None, None, None, None, None, None, None,
                          len(treated), len(held_out))
    treated_sums, treated_sizes = _sums(treated)
    held_sums, held_sizes = _sums(held_out)
    effect = float(treated_sums.sum() / treated_sizes.sum() - held_sums.sum() / held_sizes.sum())
    generator = np.random.default_rng(seed)
    spread = (_expanded_means(treated_sums, treated_sizes, generator, replications)
              - _expanded_means(held_sums, held_sizes, generator, replications))
    tail = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(spread, [tail, 1 - tail]))
    scale = DAYS_PER_MONTH * n_treated
    return KindEffect(kind, metric, n_treated, n_held_out, effect, low, high, float(spread.std(ddof=1)),
                      effect * scale, low * scale, high * scale, len(treated), len(held_out))


def _clusters(outcomes: Sequence[EntityOutcome], metric: str, target_roas: float) -> list[list[float]]:
    """Each unit of randomization's entity changes: one list per campaign drawn whole, one per entity
    drawn alone."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for index, outcome in enumerate(outcomes):
        key = f"c:{outcome.cluster}" if outcome.cluster is not None else f"e:{index}"
        grouped[key].append(outcome.change(metric, target_roas))
    return list(grouped.values())


def _sums(clusters: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([sum(c) for c in clusters], dtype=float), np.array([len(c) for c in clusters], dtype=float))


def _expanded_means(sums: np.ndarray, sizes: np.ndarray, generator: np.random.Generator,
                    replications: int) -> np.ndarray:
    """Bootstrap means per entity of an arm, resampling its units (clusters) whole: each resample's
    mean is its drawn clusters' summed changes over their entities. Spread around the arm's mean by
    sqrt(g / (g - 1)) for g units: the plain bootstrap understates a mean's variance by (g - 1) / g,
    which matters for a small held-out arm. With clusters of one entity this is the entity bootstrap."""
    g = len(sums)
    picks = generator.integers(0, g, size=(replications, g))
    means = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    centre = sums.sum() / sizes.sum()
    return centre + (means - centre) * np.sqrt(g / (g - 1))
