"""The simulator's segments: every ad set's day split across segments with their own true rates,
summing exactly to its totals, the same for the same seed."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from agent.clock import FixedClock
from connectors.segments import BREAKDOWN_REPORTS
from connectors.simulator.segments import exclusion_effect, segment_truth, split_row
from connectors.simulator.world import SimAccountSpec
from tests.fakes.platform_fixtures import make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 10, 27), date(2026, 11, 22)


@pytest.mark.parametrize("platform", ["google_ads", "meta", "linkedin"])
def test_every_breakdown_sums_exactly_to_the_ad_sets_totals(platform: str) -> None:
    simulator = make_simulator([SimAccountSpec("acct", platform, "A", "EUR", "Europe/Berlin", 2, 2, 2)],
                               FixedClock.at_day(TODAY, hour=12).now)
    totals = {(m.entity_id, m.day): m for m in simulator.daily_metrics("acct", START, END) if m.level == "ad_set"}
    for report, dimensions in BREAKDOWN_REPORTS[platform].items():
        sums: dict[tuple[str, date, str], list[object]] = defaultdict(lambda: [Decimal(0), 0.0, Decimal(0), 0, 0])
        for row in simulator.segment_metrics("acct", report, START, END):
            acc = sums[(row.entity_id, row.day, row.dimension)]
            acc[0] += row.spend  # type: ignore[operator]
            acc[1] += row.conversions  # type: ignore[operator]
            acc[2] += row.conversion_value  # type: ignore[operator]
            acc[3] += row.impressions  # type: ignore[operator]
            acc[4] += row.clicks  # type: ignore[operator]
        for (entity, day), total in totals.items():
            for dimension in dimensions:
                spend, conversions, value, impressions, clicks = sums[(entity, day, dimension)]
                assert (spend, value, impressions, clicks) == (total.spend, total.conversion_value,
                                                               total.impressions, total.clicks), (report, dimension)
                assert conversions == pytest.approx(total.conversions)


def test_segments_differ_in_truth_and_are_deterministic_by_seed() -> None:
    first = segment_truth(7, "acct-c1-s1", "device", "USD")
    assert first == segment_truth(7, "acct-c1-s1", "device", "USD")
    assert first != segment_truth(8, "acct-c1-s1", "device", "USD")
    rates = dict(zip(first.segments, first.conversion_rates, strict=True))
    assert rates["desktop"] > rates["mobile"]
    assert sum(first.shares) == pytest.approx(1.0)
    assert sum(s * r for s, r in zip(first.shares, first.conversion_rates, strict=True)) == pytest.approx(1.0)


def test_a_joint_split_has_the_marginals_of_its_pieces() -> None:
    simulator = make_simulator([SimAccountSpec("acct", "meta", "A", "EUR", "Europe/Berlin", 1, 1, 1)],
                               FixedClock.at_day(TODAY, hour=12).now)
    row = next(m for m in simulator.daily_metrics("acct", START, END) if m.level == "ad_set" and m.spend > 0)
    pieces = split_row(7, row, ("age", "gender"))
    assert len({p.segments for p in pieces}) == len(pieces) == 6 * 3
    assert sum((p.spend for p in pieces), Decimal(0)) == row.spend


def test_excluding_a_losing_segment_raises_the_ad_sets_true_roas() -> None:
    truth = segment_truth(7, "acct-c1-s1", "placement", "EUR")
    roas = {s: r * v for s, r, v in zip(truth.segments, truth.conversion_rates, truth.values, strict=True)}
    worst, best = min(roas, key=roas.__getitem__), max(roas, key=roas.__getitem__)
    assert exclusion_effect(truth, frozenset()).roas == pytest.approx(1.0)
    assert exclusion_effect(truth, frozenset({worst})).roas > 1.0 > exclusion_effect(truth, frozenset({best})).roas
    assert exclusion_effect(truth, frozenset(truth.segments)).roas == 0.0


def test_the_simulated_meta_region_report_is_type_1_its_conversions_all_in_unknown() -> None:
    clock = FixedClock.at_day(date(2026, 11, 23), hour=12)
    spec = SimAccountSpec("m", "meta", "Meta", "EUR", "Europe/Berlin", 1, 2, 2)
    simulator = make_simulator([spec], clock.now, seed=4, history_days=20)
    day = date(2026, 11, 20)
    rows = list(simulator.segment_metrics("m", "region", day, day))
    totals = [m for m in simulator.daily_metrics("m", day, day) if m.level == "ad_set"]
    assert all(r.conversions == 0 and r.conversion_value == 0 for r in rows if r.segment != "unknown")
    assert sum(r.conversions for r in rows) == pytest.approx(sum(t.conversions for t in totals))
    assert sum(r.spend for r in rows) == sum(t.spend for t in totals) and any(r.spend for r in rows if r.segment != "unknown")
