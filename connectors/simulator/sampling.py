"""Vectorised draws from counter-based uniforms: Poisson counts and exact money splits.

numpy's Generator methods consume a variable amount of their stream, so they cannot give each
entity its own fixed random numbers when thousands of entities are drawn in one call. These
samplers turn per-entity uniforms (see random_streams) into counts instead.
"""

from __future__ import annotations

import numpy as np

_NORMAL_APPROXIMATION_FROM = 30.0  # above this mean a Poisson count is drawn as a rounded normal


def poisson(means: np.ndarray, uniform: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Poisson counts with the given means: exact inversion of `uniform` for small means, a
    continuity-corrected normal from `normal` for large ones (error far below the model's noise)."""
    means = np.maximum(means, 0.0)
    counts = np.zeros(len(means), dtype=np.int64)
    large = means >= _NORMAL_APPROXIMATION_FROM
    if large.any():
        counts[large] = np.maximum(0, np.floor(means[large] + np.sqrt(means[large]) * normal[large] + 0.5))
    small = np.flatnonzero(~large & (means > 0))
    if len(small):
        lam, target = means[small], uniform[small]
        probability = np.exp(-lam)
        cumulative = probability.copy()
        found = np.zeros(len(small), dtype=np.int64)
        searching = np.flatnonzero(target > cumulative)
        step = 0
        while len(searching) and step < 200:
            step += 1
            found[searching] = step
            probability[searching] *= lam[searching] / step
            cumulative[searching] += probability[searching]
            searching = searching[target[searching] > cumulative[searching]]
        counts[small] = found
    return counts


def split_by_group(totals: np.ndarray, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Split integer `totals[g]` among the rows of each group `g` in proportion to `weights`, exactly.

    Rows must be sorted by group. Uses rounded cumulative shares, so parts are never negative and
    each group's parts add up to its total (money stays exact to the minor unit). A group whose
    weights are all zero puts its total on its first row.
    """
    if len(group) == 0:
        return np.zeros(0, dtype=np.int64)
    weights = weights.astype(np.float64)
    group_weight = np.bincount(group, weights=weights, minlength=len(totals))
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    cumulative = np.cumsum(weights)
    before_group = np.repeat(cumulative[starts] - weights[starts], np.diff(np.r_[starts, len(group)]))
    within = cumulative - before_group
    safe_weight = np.where(group_weight > 0, group_weight, 1.0)
    share = np.where(group_weight[group] > 0, within / safe_weight[group], 1.0)
    boundary = np.rint(share * totals[group]).astype(np.int64)
    last = np.r_[starts[1:] - 1, len(group) - 1]
    boundary[last] = totals[group[last]]
    parts = boundary.copy()
    parts[1:] -= boundary[:-1]
    parts[starts] = boundary[starts]
    return parts
