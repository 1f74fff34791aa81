"""Segment actions in the backtest: surplus with and without them, and false segment exclusions.
Prints the figures, asserts nothing.

    nice -n 10 python bench/segment_actions.py [--seeds 10] [--days 35] [--workers 1]

For each seed it runs the demo world's backtest twice through the daemon's cycle (every kind on
auto): with every policy, and with every policy but `segment_exclusions`. It reports the agent
arm's surplus (value - target ROAS x spend, USD, every conversion matured) in both runs and their
difference, and judges each executed segment cut against the simulator's hidden truth on the day
it took effect: the segment's true ROAS (the ad set's, without earlier cuts, times the segment's
true conversion-rate and value multipliers) at or above the target is a false exclusion. The rate
is per 50 segment-ad-set pairs: every ad set's segments of each dimension its platform can act on
(Google device, age, gender, region; Meta placement, age, region; LinkedIn company size, seniority,
industry, job function), counted once per seed. A cut's segment is judged with the ad set's other
dimensions as they were (the simulator's dimensions act independently, so only the cut dimension's
earlier cuts are taken out). A Google location cut acts on the whole campaign, so it is judged on
the campaign: its ad sets' true ROAS in the region, weighted by what each would spend there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.backtesting.arms import DEFAULT_START  # noqa: E402
from agent.backtesting.cycle_arm import run_cycle_backtest  # noqa: E402
from connectors.simulator.dynamics import simulate  # noqa: E402
from connectors.simulator.segment_actions import (  # noqa: E402
    CAMPAIGN_LEVEL_KINDS,
    SEGMENT_KINDS,
    ExclusionHistory,
    delivery_factors,
)
from connectors.simulator.segments import segment_truth  # noqa: E402
from connectors.simulator.world import DEMO_SPECS, build_world  # noqa: E402
from policies import POLICY_NAMES  # noqa: E402


def _cut(mutation: Any) -> bool:
    if mutation.kind == "set_device_bid_modifier":
        return mutation.params.get("bid_modifier") == -1.0
    return bool(mutation.params.get("excluded", True))


def run_one(seed: int, days: int) -> dict[str, Any]:
    without = run_cycle_backtest(seed, days, [p for p in POLICY_NAMES if p != "segment_exclusions"])
    report = run_cycle_backtest(seed, days, POLICY_NAMES)
    world = build_world(seed, DEMO_SPECS, DEFAULT_START)
    platform_of = {s.ad_set_id: a.platform for a in world.accounts for c in a.campaigns for s in c.ad_sets}
    currency_of = {s.ad_set_id: a.currency for a in world.accounts for c in a.campaigns for s in c.ad_sets}
    campaign_of = {s.ad_set_id: c.campaign_id for a in world.accounts for c in a.campaigns for s in c.ad_sets}
    levers = {(platform, dimension) for platform, dimension in SEGMENT_KINDS.values()}
    pairs = sum(len(segment_truth(seed, ad_set, dimension, currency_of[ad_set]).segments)
                for ad_set, platform in platform_of.items() for where, dimension in sorted(levers) if where == platform)
    mutations = list(report.agent_mutations)
    cuts, false_cuts = [], 0
    for index, mutation in enumerate(mutations):
        if mutation.kind not in SEGMENT_KINDS or not _cut(mutation):
            continue
        before = mutations[:index]
        dimension = SEGMENT_KINDS[mutation.kind][1]
        history = ExclusionHistory(platform_of, currency_of, before, campaign_of)
        state = simulate(world, before, mutation.effective_day).truth
        # a campaign-level cut (Google's location) is judged on the campaign: its ad sets' segment ROAS,
        # weighted by the money each would spend in the segment
        judged = ([a for a, c in campaign_of.items() if c == campaign_of[mutation.entity_id]]
                  if mutation.kind in CAMPAIGN_LEVEL_KINDS else [mutation.entity_id])
        weighted, weights = 0.0, 0.0
        for ad_set in judged:
            currency = currency_of[ad_set]
            excluded = history.excluded(ad_set, dimension, mutation.effective_day)
            rate, value = delivery_factors(seed, ad_set, currency, {dimension: excluded})
            truth = segment_truth(seed, ad_set, dimension, currency)
            i = truth.segments.index(str(mutation.params["segment"]))
            roas = state.true_roas.get(ad_set, 0.0) / (rate * value) * truth.conversion_rates[i] * truth.values[i]
            weight = float(state.expected_daily_spend.get(ad_set, 0)) * truth.shares[i] if len(judged) > 1 else 1.0
            weighted, weights = weighted + roas * weight, weights + weight
        segment_roas = weighted / weights if weights > 0 else 0.0
        ad_set = mutation.entity_id
        false = segment_roas >= report.target_roas
        false_cuts += false
        cuts.append({"kind": mutation.kind, "ad_set": ad_set, "segment": mutation.params["segment"],
                     "day": str(mutation.effective_day),
                     "true_roas": round(segment_roas, 3), "false": bool(false)})
    return {"seed": seed, "days": days, "target_roas": report.target_roas,
            "surplus_with": round(report.arms["agent"].surplus, 2),
            "surplus_without": round(without.arms["agent"].surplus, 2),
            "gain": round(report.arms["agent"].surplus - without.arms["agent"].surplus, 2),
            "surplus_none": round(report.arms["none"].surplus, 2),
            "pairs": pairs, "cuts": cuts, "false_cuts": false_cuts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(run_one, range(args.seeds), [args.days] * args.seeds))
    for result in results:
        print(json.dumps(result))
    gains = [r["gain"] for r in results]
    pairs = sum(r["pairs"] for r in results)
    cuts = sum(len(r["cuts"]) for r in results)
    false = sum(r["false_cuts"] for r in results)
    print(f"{len(results)} seeds x {args.days} days, demo world, target ROAS {results[0]['target_roas']:g}")
    print(f"surplus gain from segment actions (USD): total {sum(gains):,.0f}, median {statistics.median(gains):,.0f}, "
          f"range {min(gains):,.0f} .. {max(gains):,.0f}; positive on {sum(g > 0 for g in gains)} of {len(gains)} seeds")
    print(f"segment cuts executed: {cuts}; false (true ROAS >= target): {false}; pairs: {pairs}; "
          f"false per 50 pairs: {false * 50 / pairs:.3f}")
    by_kind: dict[str, list[int]] = {}
    for cut in (c for r in results for c in r["cuts"]):
        by_kind.setdefault(cut["kind"], [0, 0])[0] += 1
        by_kind[cut["kind"]][1] += bool(cut["false"])
    print("cuts by kind (executed, false): " + ", ".join(f"{k} {n} ({f})" for k, (n, f) in sorted(by_kind.items())))


if __name__ == "__main__":
    main()
