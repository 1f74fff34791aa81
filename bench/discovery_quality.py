"""Segment discovery against the simulator's hidden truth: prints figures.

    python bench/discovery_quality.py [--seeds 10] [--window-days 28] [--target 2.0]

Worlds: per seed one Google, one Meta and one LinkedIn account (3 campaigns x 3 ad sets x 2 ads,
45 days of history). Each account's stored-style breakdown rows over the window are pooled per
(dimension, segment) as `segments suggest` pools them, with the conservative default lag curve,
and `policies/segment_discovery.py` suggests groups. Each suggestion is judged against the truth:
its group's true ROAS and the rest of its dimension's, both weighted by the spend each ad set put
into each segment (true ROAS of a segment in an ad set = the ad set's true ROAS x the segment's
true conversion-rate and value multipliers, connectors/simulator/segments.py).

Figures: suggestions per account; direction right (a "worse" group truly below the rest, a
"better" one truly above); false exclusions (treatment `exclude` with a true ROAS at or above the
target); own budget truly over the target; the true ROAS gap between group and rest.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.clock import FixedClock  # noqa: E402
from connectors.records import SegmentRow  # noqa: E402
from connectors.segments import BREAKDOWN_REPORTS  # noqa: E402
from connectors.simulator.segments import segment_truth  # noqa: E402
from connectors.simulator.world import SimAccountSpec  # noqa: E402
from policies.conversion_lag import DEFAULT_CURVE  # noqa: E402
from policies.roas_evidence import window_bounds  # noqa: E402
from policies.segment_discovery import DiscoverySettings, suggest_from_breakdowns  # noqa: E402
from policies.segment_exclusions import SegmentWindow  # noqa: E402
from policies.segment_windows import segment_windows  # noqa: E402
from tests.fakes.platform_fixtures import make_simulator  # noqa: E402

TODAY = date(2026, 11, 23)


def _windows(rows: list[SegmentRow], start: date, end: date) -> list[SegmentWindow]:
    return segment_windows(rows, start, end, lambda day: DEFAULT_CURVE.for_day(day, TODAY))


@dataclass
class Figures:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    per_account: list[int] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)


def measure(seeds: int, window_days: int = 28, target: float = 2.0) -> Figures:
    """Suggestions on `seeds` simulated portfolios, judged against the hidden truth."""
    start, end = window_bounds(TODAY, window_days)
    settings = DiscoverySettings(target_roas=target)
    figures = Figures()
    counts, per_account, gaps = figures.counts, figures.per_account, figures.gaps
    for seed in range(seeds):
        specs = [SimAccountSpec(f"{platform}-{seed}", platform, platform, "EUR", "Europe/Berlin", 3, 3, 2)
                 for platform in ("google_ads", "meta", "linkedin")]
        simulator = make_simulator(specs, FixedClock.at_day(TODAY, hour=12).now, seed=seed, history_days=45)
        for spec in specs:
            truth = simulator.observe(spec.account_id).truth
            rows = [row for report in BREAKDOWN_REPORTS[spec.platform]
                    for row in simulator.segment_metrics(spec.account_id, report, start, end)]
            found = suggest_from_breakdowns(spec.account_id, spec.platform, "EUR", _windows(rows, start, end), settings)
            per_account.append(len(found))
            true_value: dict[tuple[str, str], float] = defaultdict(float)
            spend: dict[tuple[str, str], float] = defaultdict(float)
            for row in rows:
                if row.segment == "unknown":
                    continue
                segments = segment_truth(seed, row.entity_id, row.dimension, "EUR")
                i = segments.segments.index(row.segment)
                roas = truth.true_roas.get(row.entity_id, 0.0) * segments.conversion_rates[i] * segments.values[i]
                true_value[(row.dimension, row.segment)] += float(row.spend) * roas
                spend[(row.dimension, row.segment)] += float(row.spend)
            for suggestion in found:
                inside = [(suggestion.dimension, s) for s in suggestion.segments]
                rest = [k for k in spend if k[0] == suggestion.dimension and k not in inside]
                group_roas = sum(true_value[k] for k in inside) / max(sum(spend[k] for k in inside), 1e-9)
                rest_roas = sum(true_value[k] for k in rest) / max(sum(spend[k] for k in rest), 1e-9)
                counts["suggestions"] += 1
                counts[f"treatment {suggestion.treatment}"] += 1
                right = group_roas < rest_roas if suggestion.direction == "worse" else group_roas > rest_roas
                counts["direction right"] += right
                if suggestion.treatment == "exclude":
                    counts["false exclusions"] += group_roas >= target
                if suggestion.treatment == "own budget":
                    counts["own budget truly over target"] += group_roas > target
                gaps.append(abs(group_roas - rest_roas))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--window-days", type=int, default=28)
    parser.add_argument("--target", type=float, default=2.0)
    args = parser.parse_args()
    started = time.perf_counter()
    figures = measure(args.seeds, args.window_days, args.target)
    counts, per_account, gaps = figures.counts, figures.per_account, figures.gaps
    total = max(counts["suggestions"], 1)
    print(f"{args.seeds} seeds x 3 accounts, window {args.window_days} days, target ROAS {args.target}, "
          f"{time.perf_counter() - started:.0f} s")
    print(f"suggestions per account: mean {sum(per_account) / len(per_account):.1f}, "
          f"min {min(per_account)}, max {max(per_account)}")
    print(f"direction right: {counts['direction right']}/{counts['suggestions']} "
          f"({counts['direction right'] / total:.0%})")
    for treatment in ("exclude", "bid down", "own budget", "own copy"):
        print(f"treatment {treatment}: {counts[f'treatment {treatment}']}")
    print(f"false exclusions (true ROAS >= target): {counts['false exclusions']}/{counts['treatment exclude']}")
    print(f"own budget truly over target: {counts['own budget truly over target']}/{counts['treatment own budget']}")
    if gaps:
        gaps.sort()
        print(f"true ROAS gap group vs rest: median {gaps[len(gaps) // 2]:.2f}, smallest {gaps[0]:.2f}")


if __name__ == "__main__":
    main()
