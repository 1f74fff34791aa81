"""Counter-based randomness and samplers used by the vectorised simulator."""

from __future__ import annotations

from datetime import date

import numpy as np

from connectors.simulator.random_streams import day_salt, entity_keys, normals, stream_keys, uniform, uniforms
from connectors.simulator.sampling import poisson, split_by_group


def test_each_entity_keeps_its_numbers_whatever_else_is_drawn() -> None:
    salt = day_salt(3, date(2025, 1, 1), "ad_set")
    alone = uniforms(stream_keys(entity_keys(["b"]), salt), 0, 4)
    crowd = uniforms(stream_keys(entity_keys(["a", "b", "c"]), salt), 0, 4)
    assert np.array_equal(alone[0], crowd[1])
    assert uniform(3, "b", date(2025, 1, 1)) != uniform(3, "b", date(2025, 1, 2))


def test_uniforms_and_normals_look_right() -> None:
    numbers = uniforms(stream_keys(entity_keys([f"e{i}" for i in range(50_000)]), day_salt(1, None)), 0, 3)
    assert abs(numbers.mean() - 0.5) < 0.01 and numbers.min() > 0 and numbers.max() < 1
    standard = normals(numbers[:, 0], numbers[:, 1])
    assert abs(standard.mean()) < 0.02 and abs(standard.std() - 1) < 0.02


def test_poisson_counts_have_the_right_mean_and_variance() -> None:
    numbers = uniforms(stream_keys(entity_keys([f"e{i}" for i in range(40_000)]), day_salt(2, None)), 0, 3)
    standard = normals(numbers[:, 1], numbers[:, 2])
    for mean in (0.0, 0.3, 4.0, 25.0, 400.0):
        counts = poisson(np.full(len(numbers), mean), numbers[:, 0], standard)
        assert counts.min() >= 0
        assert abs(counts.mean() - mean) <= 0.05 * mean + 0.01
        assert abs(counts.var() - mean) <= 0.1 * mean + 0.01


def test_money_splits_are_exact_and_never_negative() -> None:
    parts = split_by_group(np.array([1001, 7, 0, 5]), np.array([1.0, 1, 1, 0, 0, 2, 3, 0]), np.array([0, 0, 0, 1, 1, 2, 2, 3]))
    assert parts.tolist() == [334, 333, 334, 7, 0, 0, 0, 5]
    uneven = split_by_group(np.array([99_999]), np.array([0.2, 1e-9, 3.7]), np.array([0, 0, 0]))
    assert uneven.sum() == 99_999 and uneven.min() >= 0
