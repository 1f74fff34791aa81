"""Segment exclusions against the simulator's hidden truth, over ten seeds: a segment whose true ROAS
is at or above target is rarely cut (at most 1 per 50 segment-ad-set pairs judged), and the cuts
that are proposed are mostly segments truly below target."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from agent.clock import FixedClock
from connectors.records import SegmentRow
from connectors.segments import BREAKDOWN_REPORTS
from connectors.simulator.segments import segment_truth
from connectors.simulator.world import SimAccountSpec
from policies.conversion_lag import DEFAULT_CURVE
from policies.roas_evidence import window_bounds
from policies.segment_exclusions import LEVERS, SegmentExclusionSettings, SegmentWindow, propose
from policies.segment_windows import segment_windows
from tests.fakes.platform_fixtures import make_simulator

TODAY = date(2026, 11, 23)
TARGET = 2.0
SETTINGS = SegmentExclusionSettings(target_roas=TARGET)


def _windows(rows: list[SegmentRow], start: date, end: date) -> list[SegmentWindow]:
    return segment_windows(rows, start, end, lambda day: DEFAULT_CURVE.for_day(day, TODAY))


def test_false_segment_exclusions_stay_under_one_in_fifty_pairs() -> None:
    judged = proposed = false_cuts = 0
    start, end = window_bounds(TODAY, 28)
    for seed in range(10):
        specs = [SimAccountSpec(f"{platform}-{seed}", platform, platform, "EUR", "Europe/Berlin", 3, 3, 2)
                 for platform in ("google_ads", "meta", "linkedin")]
        simulator = make_simulator(specs, FixedClock.at_day(TODAY, hour=12).now, seed=seed, history_days=45)
        for spec in specs:
            dimensions = [lever[0] for lever in LEVERS[spec.platform]]  # every lever of the platform at once
            truth = simulator.observe(spec.account_id).truth
            entities = {e.entity_id: e for e in simulator.entities(spec.account_id)}
            by_ad_set: dict[str, list[SegmentRow]] = defaultdict(list)
            for report, dims in BREAKDOWN_REPORTS[spec.platform].items():
                if set(dims) & set(dimensions):
                    for row in simulator.segment_metrics(spec.account_id, report, start, end):
                        if row.dimension in dimensions:
                            by_ad_set[row.entity_id].append(row)
            for ad_set, rows in by_ad_set.items():
                windows = _windows(rows, start, end)
                judged += len(windows)
                for proposal in propose(spec.platform, spec.account_id, entities[ad_set], windows, SETTINGS, TODAY):
                    proposed += 1
                    cut = proposal.change["to"]
                    segment_truths = segment_truth(seed, ad_set, cut["dimension"], "EUR")
                    i = segment_truths.segments.index(cut["segment"])
                    true_roas = truth.true_roas[ad_set] * segment_truths.conversion_rates[i] * segment_truths.values[i]
                    false_cuts += true_roas >= TARGET
    assert judged > 500
    assert proposed > 0, "the simulated world has segments that clearly lose"
    assert false_cuts * 50 <= judged, (false_cuts, judged)
    assert false_cuts <= proposed * 0.2, (false_cuts, proposed)
