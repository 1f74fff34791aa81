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
from policies.segment_exclusions import (
    LEVERS,
    SegmentExclusionSettings,
    SegmentWindow,
    campaign_level,
    one_location_cut_per_campaign,
    propose,
)
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
            by_campaign: dict[str, list[SegmentRow]] = defaultdict(list)  # campaign-level levers, as the shell does
            for report, dims in BREAKDOWN_REPORTS[spec.platform].items():
                if set(dims) & set(dimensions):
                    for row in simulator.segment_metrics(spec.account_id, report, start, end):
                        if campaign_level(spec.platform, row.dimension):
                            by_campaign[str(entities[row.entity_id].parent_id)].append(row)
                        elif row.dimension in dimensions:
                            by_ad_set[row.entity_id].append(row)
            proposals = []
            for ad_set in sorted(set(by_ad_set) | {e for e in entities if entities[e].level == "ad_set"}):
                windows = _windows(by_ad_set[ad_set] + by_campaign[str(entities[ad_set].parent_id)], start, end)
                judged += len(windows)
                proposals += propose(spec.platform, spec.account_id, entities[ad_set], windows, SETTINGS, TODAY)
            campaign_of = {e.entity_id: e.parent_id for e in entities.values()}
            for proposal in one_location_cut_per_campaign(proposals, campaign_of):
                proposed += 1
                cut = proposal.change["to"]
                judged_ad_sets = ([a for a, c in campaign_of.items() if c == campaign_of[proposal.entity_id]
                                   and entities[a].level == "ad_set"]
                                  if campaign_level(spec.platform, cut["dimension"]) else [proposal.entity_id])
                value = weight = 0.0  # a campaign-level cut: its ad sets' true ROAS there, by what each spends there
                for ad_set in judged_ad_sets:
                    segment_truths = segment_truth(seed, ad_set, cut["dimension"], "EUR")
                    i = segment_truths.segments.index(cut["segment"])
                    roas = truth.true_roas[ad_set] * segment_truths.conversion_rates[i] * segment_truths.values[i]
                    spent = float(truth.expected_daily_spend.get(ad_set, 0)) * segment_truths.shares[i]
                    spent = spent if len(judged_ad_sets) > 1 else 1.0
                    value, weight = value + roas * spent, weight + spent
                false_cuts += (value / weight if weight else 0.0) >= TARGET
    assert judged > 500
    assert proposed > 0, "the simulated world has segments that clearly lose"
    assert false_cuts * 50 <= judged, (false_cuts, judged)
    assert false_cuts <= proposed * 0.2, (false_cuts, proposed)
