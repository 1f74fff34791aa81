"""What the agent's actions caused: difference-in-differences of treated vs held-out entities.

For each entity in an experiment, the change in its daily outcome from its own pre-period (the
horizon's length before the draw) to the post-period (the horizon after it) is
    d_i = post_i / post_days_i - pre_i / pre_days_i .
Per action kind, the effect per entity and day is mean(d | treated) - mean(d | held out): each
entity is its own baseline (level differences cancel), and the held-out entities carry what would
have happened anyway (seasonality, the market, the platform's learning), since the arm was drawn at
random. Interval: percentile bootstrap over entities, resampling each arm on its own (stratified),
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
    treated = np.array([o.change(metric, target_roas) for o in outcomes if o.arm == "treated"], dtype=float)
    held_out = np.array([o.change(metric, target_roas) for o in outcomes if o.arm == "held_out"], dtype=float)
    n_treated, n_held_out = len(treated), len(held_out)
    if n_treated < MIN_PER_ARM or n_held_out < MIN_PER_ARM:
        return KindEffect(kind, metric, n_treated, n_held_out, None, None, None, None, None, None, None)
    effect = float(treated.mean() - held_out.mean())
    generator = np.random.default_rng(seed)
    spread = (_expanded_means(treated, generator, replications)
              - _expanded_means(held_out, generator, replications))
    tail = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(spread, [tail, 1 - tail]))
    scale = DAYS_PER_MONTH * n_treated
    return KindEffect(kind, metric, n_treated, n_held_out, effect, low, high, float(spread.std(ddof=1)),
                      effect * scale, low * scale, high * scale)


def _expanded_means(values: np.ndarray, generator: np.random.Generator, replications: int) -> np.ndarray:
    """Bootstrap means of `values`, spread around their mean by sqrt(n / (n - 1)): the plain bootstrap
    understates a mean's variance by (n - 1) / n, which matters for a small held-out arm."""
    n = len(values)
    means = values[generator.integers(0, n, size=(replications, n))].mean(axis=1)
    return values.mean() + (means - values.mean()) * np.sqrt(n / (n - 1))
