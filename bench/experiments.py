"""Randomized holdouts checked where the truth is known: prints the figures, asserts nothing.

    python bench/experiments.py [--seeds 20] [--replications 400] [--share 0.5]

1. Bias, on the simulator. For each seed, the demo world (4 accounts, 36 ad sets) runs to a draw day;
   the eligible actions are those a perfect policy would take that day: pause every ad set whose
   hidden true ROAS is below target, raise by 20% every ad-set budget that limits a non-loser. Each
   is drawn into treated or held out (policies/holdout.py). Three worlds then run on the same noise:
   `agent` (treated actions applied), `none` (no action) and `all` (every eligible action applied).
   The true effect of a kind is the mean, over its treated ad sets, of (agent - none) on the ad set's
   surplus per day over the horizon; the estimate is policies/impact.py's difference-in-differences
   computed from the `agent` world's reported (matured) figures only, pooled over the seeds.
   Target: |estimate - truth| <= 10% of the truth, or <= 0.1 standard errors when the truth is near 0.
2. Coverage of the 90% intervals, on a cheap synthetic panel with a known effect (heterogeneous
   entity sizes and effects, a market-wide drift, noise), over `--replications` panels, for a few
   panel sizes and holdout shares. Target 85-95%.
3. The cost of the holdout: surplus of `all` minus `agent` over the horizon (what the held-out
   actions would have earned), per seed and as a share of what the actions earned (`all` - `none`).
4. Copy tests (policies/copy_test.py) on simulated daily clicks: the share that keeps the truly
   better ad (target >= 90%) and the median duration.

Money in US dollars (each account's currency at the simulator's rates).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

# import from the repository, and keep bench/ itself off the path (bench/requests.py would shadow
# the `requests` library)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from connectors.simulator.dynamics import AppliedMutation, Observation, simulate  # noqa: E402
from connectors.simulator.money import units_per_usd  # noqa: E402
from connectors.simulator.world import DEMO_SPECS, build_world  # noqa: E402
from policies.copy_test import (  # noqa: E402
    CHALLENGER_WINS,
    NO_WINNER,
    RUNNING,
    ArmCounts,
    CopyTestSettings,
    decide_copy_test,
)
from policies.holdout import TREATED, draw_arm, draw_seed  # noqa: E402
from policies.impact import EntityOutcome, PeriodTotals, estimate_kind  # noqa: E402

START = date(2024, 1, 1)
DRAW_DAY = 28  # days after the world starts: four weeks of history, two of them the pre-period
HORIZON = 14
MATURITY = 29  # the simulator reports every conversion within 28 days
TARGET_ROAS = 2.0
BUDGET_RAISE = Decimal("1.2")


def _per_ad_set(observation: Observation, first: date, last: date) -> dict[str, PeriodTotals]:
    currencies = {e.account_id: e.currency for e in observation.entities}
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for row in observation.metrics:
        if row.level == "ad_set" and first <= row.day <= last:
            rate = units_per_usd(currencies.get(row.account_id, "USD"))
            figures = sums[row.entity_id]
            figures[0] += float(row.spend) / rate
            figures[1] += row.conversions
            figures[2] += float(row.conversion_value) / rate
    days = (last - first).days + 1
    return {entity: PeriodTotals(days, *figures) for entity, figures in sums.items()}


def one_seed(seed: int, share: float, draws: int) -> dict[str, object]:
    """One world, `draws` independent randomizations of its eligible actions: per draw, the
    estimate per kind and the true effect on that draw's treated ad sets."""
    world = build_world(seed, DEMO_SPECS, START)
    draw_day = START + timedelta(days=DRAW_DAY)
    before = simulate(world, [], draw_day)
    truth = before.truth
    eligible: list[AppliedMutation] = []
    for entity in before.entities:
        if entity.level != "ad_set" or entity.status != "ACTIVE":
            continue
        roas = truth.true_roas.get(entity.entity_id)
        if roas is None:
            continue
        if roas < TARGET_ROAS:
            eligible.append(AppliedMutation("pause", entity.account_id, entity.entity_id, {}, draw_day))
        elif entity.daily_budget is not None and truth.budget_limited.get(entity.entity_id):
            raised = (entity.daily_budget * BUDGET_RAISE).quantize(Decimal("0.01"))
            eligible.append(AppliedMutation("set_budget", entity.account_id, entity.entity_id,
                                            {"daily_budget": str(raised)}, draw_day))
    measured = draw_day + timedelta(days=HORIZON + MATURITY)
    pre = (draw_day - timedelta(days=HORIZON), draw_day - timedelta(days=1))
    post = (draw_day, draw_day + timedelta(days=HORIZON - 1))
    none_post = _per_ad_set(simulate(world, [], measured), *post)
    all_post = _per_ad_set(simulate(world, eligible, measured), *post)
    empty = PeriodTotals(HORIZON, 0.0, 0.0, 0.0)

    def surplus_of(totals: dict[str, PeriodTotals]) -> float:
        return sum(t.value - TARGET_ROAS * t.spend for t in totals.values())

    replications: list[dict[str, tuple[float | None, float | None, float, float | None, float | None, float]]] = []
    costs = []
    for draw in range(draws):
        arms = {m.entity_id: draw_arm(draw_seed(seed * 1000 + draw, m.account_id, m.entity_id, m.kind,
                                                draw_day.isoformat()), share).arm for m in eligible}
        treated = [m for m in eligible if arms[m.entity_id] == TREATED]
        agent = simulate(world, treated, measured)
        agent_pre, agent_post = _per_ad_set(agent, *pre), _per_ad_set(agent, *post)
        outcomes = [EntityOutcome(f"{seed}/{m.entity_id}", m.kind, arms[m.entity_id],
                                  agent_pre.get(m.entity_id, empty), agent_post.get(m.entity_id, empty))
                    for m in eligible]
        per_kind = {}
        for kind in sorted({m.kind for m in eligible}):
            true = [agent_post.get(m.entity_id, empty).per_day("surplus", TARGET_ROAS)
                    - none_post.get(m.entity_id, empty).per_day("surplus", TARGET_ROAS)
                    for m in treated if m.kind == kind]
            # interference: what the treated actions did to the held-out ad sets (0 without it)
            spill = [agent_post.get(m.entity_id, empty).per_day("surplus", TARGET_ROAS)
                     - none_post.get(m.entity_id, empty).per_day("surplus", TARGET_ROAS)
                     for m in eligible if m.kind == kind and arms[m.entity_id] != TREATED]
            found = estimate_kind(kind, [o for o in outcomes if o.kind == kind], target_roas=TARGET_ROAS,
                                  metric="surplus", replications=500, seed=draw)
            per_kind[kind] = (found.effect_per_entity_day, found.standard_error,
                              statistics.fmean(true) if true else float("nan"), found.low_per_entity_day,
                              found.high_per_entity_day, statistics.fmean(spill) if spill else 0.0)
        replications.append(per_kind)
        costs.append(surplus_of(all_post) - surplus_of(agent_post))
    return {"replications": replications, "holdout_cost": statistics.fmean(costs),
            "actions_earned": surplus_of(all_post) - surplus_of(none_post)}


def synthetic_panel(rng: np.random.Generator, n: int, share: float, effect: float) -> list[EntityOutcome]:
    """Entities of lognormal size, a 10% market drift, noise, heterogeneous effects averaging `effect`."""
    panel = []
    for i in range(n):
        level = rng.lognormal(4, 0.8)
        roas = rng.uniform(0.8, 3.5)
        arm = "held_out" if rng.random() < share else "treated"
        pre_spend = level * 14 * rng.normal(1, 0.15)
        post_spend = level * 14 * 0.9 * rng.normal(1, 0.15)
        pre_value = pre_spend * roas * rng.normal(1, 0.2)
        post_value = post_spend * roas * rng.normal(1, 0.2)
        if arm == "treated":
            post_value += rng.normal(effect, abs(effect)) * 14
        panel.append(EntityOutcome(f"e{i}", "pause", arm, PeriodTotals(14, pre_spend, 0.0, pre_value),
                                   PeriodTotals(14, post_spend, 0.0, post_value)))
    return panel


def coverage(replications: int, n: int, share: float, effect: float = 20.0) -> tuple[float, float]:
    """Share of 90% intervals that contain the true average effect among the treated, and the mean
    estimate's bias."""
    rng = np.random.default_rng(2026)
    hits, errors = 0, []
    for replication in range(replications):
        panel = synthetic_panel(rng, n, share, effect)
        # the estimand is the effect on these treated entities: their planted effects' sample mean
        result = estimate_kind("pause", panel, target_roas=TARGET_ROAS, metric="surplus", replications=1000,
                               seed=replication)
        if result.low_per_entity_day is None or result.effect_per_entity_day is None:
            continue
        hits += result.low_per_entity_day <= effect <= (result.high_per_entity_day or 0)
        errors.append(result.effect_per_entity_day - effect)
    return hits / replications, statistics.fmean(errors)


def copy_tests(tests: int, seed: int = 7) -> tuple[float, float, float, int]:
    """Simulated copy tests (policies/copy_test.py): control CTR 0.5-3%, challenger CTR x exp(N(0, 0.2)),
    1,000-5,000 impressions per arm and day. Returns, over the tests with a verdict, the share that kept
    the truly better ad, that share among tests with a true difference of at least 10%, the median
    duration in days of every test, and the number of tests that ended without a winner."""
    rng = np.random.default_rng(seed)
    settings = CopyTestSettings()
    kept, kept_clear, clear, decided, durations = 0, 0, 0, 0, []
    for _ in range(tests):
        control_ctr = rng.uniform(0.005, 0.03)
        challenger_ctr = min(0.5, control_ctr * float(np.exp(rng.normal(0, 0.2))))
        daily = int(rng.integers(1000, 5000))
        control, challenger = ArmCounts(0, 0), ArmCounts(0, 0)
        days: list[tuple[ArmCounts, ArmCounts]] = []
        for day in range(1, settings.max_days + 1):
            today = (ArmCounts(daily, int(rng.binomial(daily, control_ctr))),
                     ArmCounts(daily, int(rng.binomial(daily, challenger_ctr))))
            days.append(today)
            control = ArmCounts(control.impressions + daily, control.clicks + today[0].clicks)
            challenger = ArmCounts(challenger.impressions + daily, challenger.clicks + today[1].clicks)
            decision = decide_copy_test(control, challenger, day + 1, settings, days)  # day 0: the launch day
            if decision.status != RUNNING:
                break
        durations.append(day + 1)
        if decision.status == NO_WINNER:
            continue
        decided += 1
        right = (decision.status == CHALLENGER_WINS) == (challenger_ctr > control_ctr)
        kept += right
        if abs(challenger_ctr / control_ctr - 1) >= 0.1:
            clear += 1
            kept_clear += right
    return kept / max(decided, 1), kept_clear / max(clear, 1), float(statistics.median(durations)), tests - decided


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--draws", type=int, default=5, help="randomizations per seed (same world and noise)")
    parser.add_argument("--replications", type=int, default=400)
    parser.add_argument("--share", type=float, default=0.5, help="holdout share in the simulator part")
    args = parser.parse_args()
    started = time.monotonic()
    rows: dict[str, list[tuple[float | None, float | None, float, float | None, float | None, float]]] = \
        defaultdict(list)
    seeds_of: dict[str, list[int]] = defaultdict(list)
    costs, earned = [], []
    for seed in range(1, args.seeds + 1):
        result = one_seed(seed, args.share, args.draws)
        for replication in result["replications"]:  # type: ignore[attr-defined]
            for kind, row in replication.items():
                rows[kind].append(row)
                seeds_of[kind].append(seed)
        costs.append(float(result["holdout_cost"]))  # type: ignore[arg-type]
        earned.append(float(result["actions_earned"]))  # type: ignore[arg-type]
    print(f"simulator: {args.seeds} seeds x {args.draws} randomizations, holdout share {args.share:.0%}, "
          f"horizon {HORIZON} days, target ROAS {TARGET_ROAS} (surplus in USD per treated ad set and day)")
    print(f"{'kind':<11} {'reps':>5} {'true':>8} {'estimate':>9} {'bias':>8} {'+-':>6} {'SE':>7} "
          f"{'bias/true':>9} {'bias/SE':>8} {'cover90':>7} {'spill':>7}  target")
    for kind in sorted(rows):
        keep = [i for i, r in enumerate(rows[kind]) if r[0] is not None and r[1] is not None and not np.isnan(r[2])]
        usable = [rows[kind][i] for i in keep]
        if not usable:
            print(f"{kind:<11} too few entities in an arm")
            continue
        estimates = [float(r[0]) for r in usable]  # type: ignore[arg-type]
        truths = [r[2] for r in usable]
        errors = [e - t for e, t in zip(estimates, truths, strict=True)]
        bias, truth = statistics.fmean(errors), statistics.fmean(truths)
        # the randomizations of one seed share its world: the bias's standard error is clustered by seed
        by_seed: dict[int, list[float]] = defaultdict(list)
        for index, error in zip(keep, errors, strict=True):
            by_seed[seeds_of[kind][index]].append(error)
        seed_means = [statistics.fmean(v) for v in by_seed.values()]
        bias_se = statistics.stdev(seed_means) / len(seed_means) ** 0.5 if len(seed_means) > 1 else float("nan")
        se = statistics.fmean(float(r[1]) for r in usable)  # type: ignore[arg-type]
        covered = statistics.fmean(1.0 if (r[3] or 0) <= r[2] <= (r[4] or 0) else 0.0 for r in usable)
        met = abs(bias) <= 0.1 * abs(truth) or abs(bias) <= 0.1 * se
        print(f"{kind:<11} {len(usable):>5} {truth:>8.2f} {statistics.fmean(estimates):>9.2f} {bias:>+8.2f} "
              f"{bias_se:>6.2f} {se:>7.2f} {bias / truth if truth else float('nan'):>+9.1%} {bias / se:>+8.2f} "
              f"{covered:>7.0%} {statistics.fmean(r[5] for r in usable):>+7.2f}  {'met' if met else 'missed'}")
    print("  (bias = mean of estimate - truth over the replications, +- its standard error clustered by seed;\n"
          "   SE = the mean"
          " bootstrap standard error of one estimate; spill = what the treated actions did to the held-out\n"
          "   ad sets, the interference; target |bias| <= 10% of truth or <= 0.1 SE)")
    print(f"holdout cost: {statistics.fmean(costs):,.0f} USD of surplus per seed over {HORIZON} days "
          f"({sum(costs) / sum(earned):.1%} of the {statistics.fmean(earned):,.0f} USD the eligible actions earned)")
    print(f"coverage of 90% intervals, synthetic panel, {args.replications} replications each (target 85-95%):")
    for n, share in ((200, 0.1), (100, 0.2), (60, 0.5), (30, 0.1)):
        coverage_rate, synthetic_bias = coverage(args.replications, n, share)
        print(f"  {n:>4} entities, share {share:.0%}: coverage {coverage_rate:.1%}, mean bias {synthetic_bias:+.2f} "
              f"(true effect 20.00 per entity and day)")
    right, right_clear, median_days, no_winner = copy_tests(1000)
    print(f"copy tests (1,000 simulated, daily looks, bound |z| >= 2.8, at most 28 days): {no_winner} ended without a "
          f"clear winner; the others kept the truly better ad in {right:.1%} ({right_clear:.1%} where the true CTRs "
          f"differ by >= 10%; target >= 90%), median duration of every test {median_days:.0f} days")
    print(f"[{time.monotonic() - started:.0f} s]")


if __name__ == "__main__":
    main()
