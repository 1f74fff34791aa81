"""Segment discovery against the simulator's hidden truth (bench/discovery_quality.py at 3 seeds):
three to five suggestions per account, nearly all on the right side of the rest."""

from bench.discovery_quality import measure


def test_suggestions_are_few_and_point_the_right_way() -> None:
    figures = measure(seeds=3)
    counts = figures.counts
    assert all(3 <= found <= 5 for found in figures.per_account), figures.per_account
    assert counts["direction right"] >= 0.95 * counts["suggestions"], dict(counts)
    assert counts["false exclusions"] <= 0.15 * counts["treatment exclude"], dict(counts)
    assert counts["own budget truly over target"] >= 0.9 * counts["treatment own budget"], dict(counts)
