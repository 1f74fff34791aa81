"""Predicted CTR of new ad text, learnt from the account's own ads, with an interval.

Every model predicts log CTR as the ad set's baseline (the mean log CTR of its current ads) plus
the effect of how the new text differs from those ads: `mu = ybar_s + (x - xbar_s) . beta`. The
baseline absorbs what the words cannot change (audience, keywords, placement); only within-ad-set
differences teach the text effects. With thin data the effects shrink to zero and the prediction
to the baseline. The interval adds three variances: of the effects, of the baseline, and the
between-ad scatter no feature explains (estimated from the residuals).

- `ridge`: weighted ridge regression with ad-set fixed effects; the penalty is chosen by
  leave-one-ad-out error; weights 1 / (binomial variance + unexplained scatter).
- `empirical_bayes`: each feature's pooled sibling contrast (see patterns.py), shrunk toward zero
  by a normal prior whose variance is estimated across features, effects added up.
- `baseline`: the ad set's mean, for comparison.
docs/copy.md reports the held-out comparison that made `ridge` the default.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.copywriter.features import FEATURE_NAMES
from agent.copywriter.history import AdRecord
from agent.copywriter.patterns import (
    Contrast,
    contrast,
    feature_threshold,
    sibling_residuals,
    sibling_variance,
)

if TYPE_CHECKING:
    from agent.copywriter.launch_feedback import LaunchFeedback

MIN_SCATTER = 1e-4  # a floor for the unexplained variance of log CTR (1% CTR noise)
LAMBDA_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


@dataclass(frozen=True)
class CtrPrediction:
    """A point estimate with a central interval, and the ad set baseline it was shrunk toward."""

    ctr: float
    low: float
    high: float
    baseline_ctr: float
    level: float
    model: str
    training_ads: int
    uncorrected: tuple[float, float, float] | None = None  # (ctr, low, high) before the selection correction
    feedback: LaunchFeedback | None = None  # the launches' correction applied (agent/copywriter/launch_feedback.py)

    @property
    def lift(self) -> float:
        return self.ctr / self.baseline_ctr - 1 if self.baseline_ctr > 0 else 0.0

    def as_evidence(self) -> dict[str, Any]:
        return {"ctr": round(self.ctr, 6), "interval": [round(self.low, 6), round(self.high, 6)],
                "interval_level": self.level, "baseline_ctr": round(self.baseline_ctr, 6),
                "predicted_lift": round(self.lift, 4), "model": self.model, "training_ads": self.training_ads,
                **({"uncorrected": {"ctr": round(self.uncorrected[0], 6),
                                    "interval": [round(self.uncorrected[1], 6), round(self.uncorrected[2], 6)]}}
                   if self.uncorrected else {}),
                **({"launch_feedback": self.feedback.as_evidence()} if self.feedback else {})}


@dataclass(frozen=True)
class TrainingSet:
    """Features, log CTRs and sampling variances of the account's ads, grouped by ad set."""

    ad_ids: tuple[str, ...]
    groups: tuple[str, ...]
    features: np.ndarray  # (ads, features)
    log_ctr: np.ndarray
    sampling_variance: np.ndarray
    records: tuple[AdRecord, ...] = ()

    @classmethod
    def build(cls, records: Sequence[AdRecord], vectors: dict[str, list[float]]) -> TrainingSet:
        return cls(
            ad_ids=tuple(r.ad_id for r in records),
            groups=tuple(r.ad_set_id for r in records),
            features=np.array([vectors[r.ad_id] for r in records], dtype=float).reshape(len(records),
                                                                                          len(FEATURE_NAMES)),
            log_ctr=np.array([r.log_ctr for r in records], dtype=float),
            sampling_variance=np.array([r.sampling_variance for r in records], dtype=float),
            records=tuple(records),
        )

    def without(self, index: int) -> TrainingSet:
        keep = [i for i in range(len(self.ad_ids)) if i != index]
        return TrainingSet(tuple(self.ad_ids[i] for i in keep), tuple(self.groups[i] for i in keep),
                           self.features[keep], self.log_ctr[keep], self.sampling_variance[keep],
                           tuple(self.records[i] for i in keep) if self.records else ())


@dataclass
class _GroupStats:
    mean_log_ctr: float
    mean_features: np.ndarray
    variance: float  # of the baseline


@dataclass
class FittedModel:
    """A fitted model: `predict_log(x, ad_set)` gives the mean and variance of log CTR."""

    name: str
    effects: np.ndarray  # per feature, in log CTR per unit of the feature
    effect_covariance: np.ndarray
    scatter: float  # unexplained between-ad variance of log CTR
    groups: dict[str, _GroupStats]
    account: _GroupStats
    training_ads: int
    details: dict[str, Any] = field(default_factory=dict)
    binary: bool = False  # features are used as present / absent (empirical Bayes)

    def predict_log(self, x: Sequence[float], ad_set_id: str) -> tuple[float, float, float]:
        """(mean, variance, baseline) of log CTR for text with features `x` in `ad_set_id`."""
        stats = self.groups.get(ad_set_id, self.account)
        values = np.asarray(x, dtype=float)
        if self.binary:
            values = (values > np.array([feature_threshold(n) for n in FEATURE_NAMES])).astype(float)
        offset = values - stats.mean_features
        mean = stats.mean_log_ctr + float(offset @ self.effects)
        variance = float(offset @ self.effect_covariance @ offset) + stats.variance + self.scatter
        return mean, variance, stats.mean_log_ctr

    def predict(self, x: Sequence[float], ad_set_id: str, level: float = 0.8) -> CtrPrediction:
        mean, variance, baseline = self.predict_log(x, ad_set_id)
        z = NormalDist().inv_cdf(0.5 + level / 2)
        spread = z * math.sqrt(max(variance, 0.0))
        return CtrPrediction(math.exp(mean), math.exp(mean - spread), math.exp(mean + spread), math.exp(baseline),
                             level, self.name, self.training_ads)


def _group_stats(data: TrainingSet, effects: np.ndarray, scatter: float) -> tuple[dict[str, _GroupStats],
                                                                                   _GroupStats]:
    weights = 1.0 / (data.sampling_variance + scatter)
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(data.groups):
        members[group].append(index)
    stats = {}
    for group, indexes in members.items():
        w = weights[indexes]
        stats[group] = _GroupStats(float(w @ data.log_ctr[indexes] / w.sum()),
                                   w @ data.features[indexes] / w.sum(), float(1.0 / w.sum()))
    if stats:
        # An ad set without usable ads: the account's average ad set, with the spread of ad sets.
        adjusted = np.array([s.mean_log_ctr - s.mean_features @ effects for s in stats.values()])
        mean_features = np.mean([s.mean_features for s in stats.values()], axis=0)
        between = float(np.var(adjusted)) if len(adjusted) > 1 else 1.0
        account = _GroupStats(float(adjusted.mean() + mean_features @ effects), mean_features, between)
    else:
        account = _GroupStats(math.log(0.01), np.zeros(len(FEATURE_NAMES)), 1.0)
    return stats, account


def _centred(data: TrainingSet, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features and log CTR minus their (weighted) ad-set means: the fixed-effects transform."""
    x, y = data.features.copy(), data.log_ctr.copy()
    for group in set(data.groups):
        rows = [i for i, g in enumerate(data.groups) if g == group]
        w = weights[rows] / weights[rows].sum()
        x[rows] -= w @ data.features[rows]
        y[rows] -= w @ data.log_ctr[rows]
    return x, y


def _ridge_solve(x: np.ndarray, y: np.ndarray, weights: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray,
                                                                                              float]:
    """Effects, their posterior covariance and the effective degrees of freedom of a weighted ridge
    fit with features scaled to unit within-ad-set spread (so one penalty suits every feature)."""
    scale = np.sqrt((weights @ (x * x)) / weights.sum())
    scale[scale < 1e-9] = np.inf  # a feature that never varies between siblings gets no effect
    xs = x / scale
    gram = xs.T @ (xs * weights[:, None])
    precision = gram + penalty * weights.mean() * np.eye(x.shape[1])
    covariance = np.linalg.inv(precision)
    effects = covariance @ (xs.T @ (weights * y))
    dof = float(np.trace(covariance @ gram))
    return effects / scale, covariance / np.outer(scale, scale), dof


def _scatter(residuals: np.ndarray, sampling: np.ndarray, free: float) -> float:
    if free <= 0:
        return 0.05
    return max(MIN_SCATTER, float(np.sum(residuals**2) / free - sampling.mean()))


def fit_ridge(data: TrainingSet, penalty: float | None = None) -> FittedModel:
    """Ridge with ad-set fixed effects; `penalty` None picks it by leave-one-ad-out error."""
    n, groups = len(data.ad_ids), len(set(data.groups))
    scatter = 0.01
    chosen = penalty if penalty is not None else 10.0
    for iteration in range(4):
        weights = 1.0 / (data.sampling_variance + scatter)
        x, y = _centred(data, weights)
        if penalty is None and iteration == 1:
            chosen = _choose_penalty(data, scatter)
        effects, covariance, dof = _ridge_solve(x, y, weights, chosen)
        scatter = _scatter(y - x @ effects, data.sampling_variance, n - groups - dof)
    stats, account = _group_stats(data, effects, scatter)
    return FittedModel("ridge", effects, covariance * _covariance_scale(x, y, effects, weights, n - groups - dof),
                       scatter, stats, account, n, {"penalty": chosen, "effective_parameters": round(dof, 2)})


def _covariance_scale(x: np.ndarray, y: np.ndarray, effects: np.ndarray, weights: np.ndarray, free: float) -> float:
    """Residual over expected weighted error: > 1 when weights understate the noise."""
    if free <= 0:
        return 1.0
    return max(1.0, float(weights @ (y - x @ effects) ** 2) / free)


def _choose_penalty(data: TrainingSet, scatter: float) -> float:
    best, best_error = LAMBDA_GRID[-1], math.inf
    for penalty in LAMBDA_GRID:
        error = 0.0
        for index in held_out_indexes(data):
            rest = data.without(index)
            weights = 1.0 / (rest.sampling_variance + scatter)
            x, y = _centred(rest, weights)
            effects, _, _ = _ridge_solve(x, y, weights, penalty)
            stats, _ = _group_stats(rest, effects, scatter)
            group = stats[data.groups[index]]
            predicted = group.mean_log_ctr + (data.features[index] - group.mean_features) @ effects
            error += float(data.log_ctr[index] - predicted) ** 2
        if error < best_error - 1e-12:
            best, best_error = penalty, error
    return best


def held_out_indexes(data: TrainingSet) -> list[int]:
    """Ads whose ad set keeps at least one other ad when they are held out."""
    counts: dict[str, int] = defaultdict(int)
    for group in data.groups:
        counts[group] += 1
    return [i for i, group in enumerate(data.groups) if counts[group] >= 2]


def _column_test(column: np.ndarray, cut: float, index_of: Mapping[str, int]) -> Callable[[AdRecord], bool]:
    return lambda record: bool(column[index_of[record.ad_id]] > cut)


def binarised(data: TrainingSet) -> TrainingSet:
    """Every feature as present (1) or absent (0): the components the empirical-Bayes model adds up."""
    cuts = np.array([feature_threshold(name) for name in FEATURE_NAMES])
    return replace(data, features=(data.features > cuts).astype(float))


def fit_empirical_bayes(data: TrainingSet, sweeps: int = 8) -> FittedModel:
    """Components' sibling contrasts, each shrunk by a normal prior fitted across components.

    Contrasts are taken on partial residuals (backfitting: the other components' current effects
    removed), so two components that always come together are not both credited with one lift.
    """
    data = binarised(data)
    records = list(data.records)
    residuals = sibling_residuals(records)
    if not residuals:
        return fit_baseline(data)
    index_of = {ad_id: i for i, ad_id in enumerate(data.ad_ids)}
    members = [i for i, ad_id in enumerate(data.ad_ids) if ad_id in residuals]
    centred, _ = _centred(data, np.ones(len(data.ad_ids)))  # component indicators minus ad-set means
    effects = np.zeros(len(FEATURE_NAMES))
    variances = np.zeros(len(FEATURE_NAMES))
    base = np.array([residuals.get(ad_id, 0.0) for ad_id in data.ad_ids])
    spread = sibling_variance(records, residuals)  # before any effect is removed: conservative

    def component_contrast(k: int, values: np.ndarray) -> Contrast | None:
        partial = {data.ad_ids[i]: float(values[i]) for i in members}
        return contrast(records, partial, _column_test(data.features[:, k], 0.0, index_of), spread)

    marginal = [c for c in (component_contrast(k, base) for k in range(len(FEATURE_NAMES))) if c is not None]
    if spread <= 0 or not marginal:
        return fit_baseline(data)
    # Normal prior on a component's lift, its variance from the marginal contrasts (method of moments).
    prior = max(0.0, float(np.mean([c.log_lift**2 - c.variance for c in marginal])))
    for _round in range(2):  # the second round judges contrasts against the first round's residual spread
        current = base - centred @ effects
        variances[:] = 0.0
        for _ in range(sweeps):  # Gauss-Seidel: each component fitted to what the others leave unexplained
            for k in range(len(FEATURE_NAMES)):
                partial = current + centred[:, k] * effects[k]
                result = component_contrast(k, partial)
                if result is None or prior + result.variance <= 0:
                    continue
                effects[k] = result.log_lift * prior / (prior + result.variance)
                variances[k] = prior * result.variance / (prior + result.variance)
                current = partial - centred[:, k] * effects[k]
        final = base - centred @ effects
        used = float(np.sum(variances)) / prior if prior > 0 else 0.0  # sum of shrink factors: parameters spent
        spread = sibling_variance(records, {data.ad_ids[i]: float(final[i]) for i in members}) \
            * len(members) / max(1.0, len(members) - used)
    scatter = max(MIN_SCATTER, spread - float(data.sampling_variance.mean()))
    stats, account = _group_stats(data, effects, scatter)
    return FittedModel("empirical_bayes", effects, np.diag(variances), scatter, stats, account, len(records),
                       {"prior_variance": prior}, binary=True)


def fit_baseline(data: TrainingSet) -> FittedModel:
    """Every new ad is predicted at its ad set's mean; the interval is the siblings' scatter."""
    residuals = sibling_residuals(list(data.records))
    spread = sibling_variance(list(data.records), residuals)
    scatter = max(MIN_SCATTER, spread - float(data.sampling_variance.mean())) if residuals else 0.05
    effects = np.zeros(len(FEATURE_NAMES))
    stats, account = _group_stats(data, effects, scatter)
    return FittedModel("baseline", effects, np.zeros((len(FEATURE_NAMES), len(FEATURE_NAMES))), scatter, stats,
                       account, len(data.ad_ids))


FITTERS = {"ridge": fit_ridge, "empirical_bayes": fit_empirical_bayes, "baseline": fit_baseline}


def refitter(model: FittedModel) -> Callable[[TrainingSet], FittedModel]:
    """Fits `model`'s kind again on other data (ridge at the penalty it chose): for out-of-sample checks."""
    if model.name == "ridge":
        penalty = float(model.details.get("penalty", 10.0))
        return lambda data: fit_ridge(data, penalty)
    return FITTERS[model.name]


def fit(data: TrainingSet, name: str, min_ads: int = 6) -> FittedModel:
    """Fit model `name`; below `min_ads` ads (or without siblings to compare) the baseline is used."""
    if name != "baseline" and (len(data.ad_ids) < min_ads or not held_out_indexes(data)):
        model = fit_baseline(data)
        model.details["reason"] = f"only {len(data.ad_ids)} ads with enough history: baseline"
        return model
    return FITTERS[name](data)
