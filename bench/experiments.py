"""Randomized holdouts checked where the truth is known: prints the figures, asserts nothing.

    python bench/experiments.py [--seeds 20] [--first-seed 1] [--draws 5] [--pool 4] [--replications 400]
                                [--share 0.1,0.5] [--unit entity,campaign]

1. Bias, on the simulator. For each seed, the demo world (4 accounts, 12 campaigns, 36 ad sets) runs
   to a draw day; the eligible actions are those a perfect policy would take that day: pause every ad
   set whose hidden true ROAS is below target, raise by 20% every ad-set budget that limits a
   non-loser. They are drawn into treated or held out (policies/holdout.py) per entity (each ad set
   its own draw) or per campaign (one draw per campaign and kind), at each share. Three worlds run on
   the same noise: `agent` (treated actions applied), `none` (no action) and `all` (every eligible
   action applied). The true effect of a kind is the mean, over its treated ad sets, of
   (agent - none) on the ad set's surplus per day over the horizon; the estimate is
   policies/impact.py's difference-in-differences (its bootstrap over campaigns when drawn per
   campaign) computed from the `agent` world's reported (matured) figures only. One replication
   pools `--pool` worlds (as the report pools the accounts of one currency: a world holds few
   campaigns), for each randomization index, share and unit: all from the same worlds.
   Target: |estimate - truth| <= 10% of the truth, or <= 0.1 standard errors when the truth is near 0.
2. Coverage of the 90% intervals, on a cheap synthetic panel with a known effect (heterogeneous
   entity sizes and effects, a market-wide drift, noise), over `--replications` panels, for a few
   panel sizes and holdout shares; and on a clustered panel (campaigns sharing a shock, interference
   inside a campaign) drawn per entity or per campaign, bootstrapped over entities or campaigns.
   Target 85-95%.
3. The cost of the holdout: surplus of `all` minus `agent` over the horizon (what the held-out
   actions would have earned), per world and as a share of what the actions earned (`all` - `none`).
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
from collections.abc import Sequence
from dataclasses import dataclass
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
from policies.holdout import CAMPAIGN, ENTITY, TREATED, UNITS, draw_arm, draw_seed  # noqa: E402
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


@dataclass(frozen=True)
class Unit:
    """One eligible ad set in one randomization: its outcome as the estimator sees it, and its true
    effect (agent - none, surplus per day over the horizon), which is the spill when it is held out."""

    outcome: EntityOutcome
    true_effect: float
    # agent - (agent without the treated actions of this ad set's kind): the effect of the kind's own
    # actions, the others as they were (None where not simulated, see --own-truth)
    own_effect: float | None = None


def one_seed(seed: int, shares: Sequence[float], units: Sequence[str], draws: int,
             own_kinds: Sequence[str] = ()) -> tuple[dict[tuple[float, str, int], list[Unit]], dict[tuple[float, str], float], float]:
    """One world, `draws` independent randomizations of its eligible actions per (share, unit): per
    randomization, each eligible ad set's outcome and true effect. The draws of one index share their
    uniform numbers across shares (a 10% held-out arm is inside the 50% one). Also the holdout cost
    per (share, unit) and what all the eligible actions earned."""
    world = build_world(seed, DEMO_SPECS, START)
    draw_day = START + timedelta(days=DRAW_DAY)
    before = simulate(world, [], draw_day)
    truth = before.truth
    campaign_of = {e.entity_id: e.parent_id or e.entity_id for e in before.entities}
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

    def per_day(totals: dict[str, PeriodTotals], entity_id: str) -> float:
        return totals.get(entity_id, empty).per_day("surplus", TARGET_ROAS)

    randomizations: dict[tuple[float, str, int], list[Unit]] = {}
    costs: dict[tuple[float, str], list[float]] = defaultdict(list)
    for unit in units:
        for draw in range(draws):
            for share in shares:
                # per entity: the ad set's own draw; per campaign: one draw per (campaign, kind)
                arms = {m.entity_id: draw_arm(draw_seed(
                    seed * 1000 + draw, m.account_id, m.entity_id if unit == ENTITY else campaign_of[m.entity_id],
                    m.kind, draw_day.isoformat(), unit), share).arm for m in eligible}
                treated = [m for m in eligible if arms[m.entity_id] == TREATED]
                agent = simulate(world, treated, measured)
                agent_pre, agent_post = _per_ad_set(agent, *pre), _per_ad_set(agent, *post)
                without = {kind: _per_ad_set(simulate(world, [m for m in treated if m.kind != kind], measured), *post)
                           for kind in own_kinds}
                randomizations[(share, unit, draw)] = [Unit(
                    EntityOutcome(f"{seed}/{m.entity_id}", m.kind, arms[m.entity_id],
                                  agent_pre.get(m.entity_id, empty), agent_post.get(m.entity_id, empty),
                                  cluster=None if unit == ENTITY else f"{seed}/{campaign_of[m.entity_id]}"),
                    per_day(agent_post, m.entity_id) - per_day(none_post, m.entity_id),
                    per_day(agent_post, m.entity_id) - per_day(without[m.kind], m.entity_id)
                    if m.kind in without else None) for m in eligible]
                costs[(share, unit)].append(surplus_of(all_post) - surplus_of(agent_post))
    return (randomizations, {key: statistics.fmean(values) for key, values in costs.items()},
            surplus_of(all_post) - surplus_of(none_post))


def pooled_replication(units: Sequence[Unit], kind: str, seed: int) -> Row | None:
    """One replication's estimate of a kind over the pooled worlds, with the truth (mean true effect
    on the treated) and the spill (mean true effect on the held out: 0 without interference)."""
    mine = [u for u in units if u.outcome.kind == kind]
    truths = [u.true_effect for u in mine if u.outcome.arm == TREATED]
    spills = [u.true_effect for u in mine if u.outcome.arm != TREATED]
    own = [u.own_effect for u in mine if u.outcome.arm == TREATED and u.own_effect is not None]
    own_spills = [u.own_effect for u in mine if u.outcome.arm != TREATED and u.own_effect is not None]
    found = estimate_kind(kind, [u.outcome for u in mine], target_roas=TARGET_ROAS, metric="surplus",
                          replications=500, seed=seed)
    if found.effect_per_entity_day is None or found.standard_error is None or not truths:
        return None
    return Row(found.effect_per_entity_day, found.standard_error, statistics.fmean(truths),
               found.low_per_entity_day or 0.0, found.high_per_entity_day or 0.0,
               statistics.fmean(spills) if spills else 0.0, found.n_held_out_clusters,
               statistics.fmean(own) if own else None, statistics.fmean(own_spills) if own_spills else None)


@dataclass(frozen=True)
class Row:
    estimate: float
    standard_error: float
    truth: float
    low: float
    high: float
    spill: float
    held_out_units: int
    own_truth: float | None = None  # the kind's own effect on its treated ad sets (--own-truth)
    own_spill: float | None = None  # ... on its held-out ad sets: interference among the kind's own actions

    @property
    def target(self) -> float:
        """The truth the estimate is judged against: the kind's own effect where simulated."""
        return self.truth if self.own_truth is None else self.own_truth


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


CLUSTER_SPILL = 15.0  # per entity and day, onto a held-out entity whose campaign-mates are all treated


def clustered_panel(rng: np.random.Generator, clusters: int, share: float, effect: float, unit: str,
                    bootstrap: str) -> list[EntityOutcome]:
    """Campaigns of 3-6 entities (lognormal sizes, ROAS 0.8-3.5, a 10% market drift, noise), a shock
    shared by a campaign's entities, heterogeneous effects averaging `effect` on the treated, and
    interference inside a campaign: a held-out entity's surplus rises by CLUSTER_SPILL x the share of
    its campaign-mates treated. Arms drawn per entity or per campaign; the outcomes carry their
    campaign as the cluster only when `bootstrap` is per campaign."""
    panel = []
    for c in range(clusters):
        size = int(rng.integers(3, 7))
        shock = rng.normal(0, 15) * 14  # the campaign's own market over the horizon
        campaign_held = rng.random() < share
        arms = [("held_out" if (campaign_held if unit == CAMPAIGN else rng.random() < share) else "treated")
                for _ in range(size)]
        for i, arm in enumerate(arms):
            level = rng.lognormal(4, 0.8)
            roas = rng.uniform(0.8, 3.5)
            pre_spend = level * 14 * rng.normal(1, 0.15)
            post_spend = level * 14 * 0.9 * rng.normal(1, 0.15)
            pre_value = pre_spend * roas * rng.normal(1, 0.2)
            post_value = post_spend * roas * rng.normal(1, 0.2) + shock
            mates = [a for j, a in enumerate(arms) if j != i]
            if arm == "treated":
                post_value += rng.normal(effect, abs(effect)) * 14
            else:
                post_value += CLUSTER_SPILL * sum(a == "treated" for a in mates) / len(mates) * 14
            panel.append(EntityOutcome(f"c{c}e{i}", "set_budget", arm, PeriodTotals(14, pre_spend, 0.0, pre_value),
                                       PeriodTotals(14, post_spend, 0.0, post_value),
                                       cluster=f"c{c}" if bootstrap == CAMPAIGN else None))
    return panel


def clustered_coverage(replications: int, clusters: int, share: float, unit: str, bootstrap: str,
                       effect: float = 20.0) -> tuple[float, float, float]:
    """Coverage of the 90% intervals (over all replications; one without 2 units per arm counts as a
    miss), mean bias of the usable ones, and the mean held-out units, on the clustered panel."""
    rng = np.random.default_rng(2027)
    hits, errors, held = 0, [], []
    for replication in range(replications):
        panel = clustered_panel(rng, clusters, share, effect, unit, bootstrap)
        result = estimate_kind("set_budget", panel, target_roas=TARGET_ROAS, metric="surplus", replications=1000,
                               seed=replication)
        held.append(result.n_held_out_clusters)
        if result.low_per_entity_day is None or result.effect_per_entity_day is None:
            continue
        hits += result.low_per_entity_day <= effect <= (result.high_per_entity_day or 0)
        errors.append(result.effect_per_entity_day - effect)
    return hits / replications, statistics.fmean(errors) if errors else float("nan"), statistics.fmean(held)


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


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def _units(text: str) -> list[str]:
    units = [part.strip() for part in text.split(",") if part.strip()]
    for unit in units:
        if unit not in UNITS:
            raise SystemExit(f"--unit: one of {', '.join(UNITS)} (got {unit!r})")
    return units


def print_simulator(rows: dict[tuple[float, str, str], list[tuple[int, Row]]], replications: dict[tuple[float, str], int],
                    costs: dict[tuple[float, str], list[float]], earned: list[float]) -> None:
    print(f"{'share':>5} {'unit':<8} {'kind':<10} {'reps':>7} {'held':>5} {'true':>7} {'own':>7} {'estimate':>8} "
          f"{'bias':>7} {'+-':>6} {'median':>7} {'SE':>6} {'bias/true':>9} {'bias/SE':>7} {'cover90':>7} {'spill':>7} {'own sp':>7}"
          f"  target")
    for (share, unit, kind), found in sorted(rows.items()):
        usable = [row for _, row in found]
        total = replications[(share, unit)]
        if not usable:
            print(f"{share:>5.0%} {unit:<8} {kind:<10} {0:>3}/{total:<3} too few held-out units in every replication")
            continue
        errors = [r.estimate - r.target for r in usable]
        bias, truth = statistics.fmean(errors), statistics.fmean(r.target for r in usable)
        owns = [r.own_truth for r in usable if r.own_truth is not None]
        own_spills = [r.own_spill for r in usable if r.own_spill is not None]
        own_text = f"{statistics.fmean(owns):>7.2f}" if owns else f"{'-':>7}"
        own_spill_text = f"{statistics.fmean(own_spills):>+7.2f}" if own_spills else f"{'-':>7}"
        # the randomizations of one pool share its worlds: the bias's standard error is clustered by pool
        by_pool: dict[int, list[float]] = defaultdict(list)
        for (pool, _), error in zip(found, errors, strict=True):
            by_pool[pool].append(error)
        pool_means = [statistics.fmean(v) for v in by_pool.values()]
        bias_se = statistics.stdev(pool_means) / len(pool_means) ** 0.5 if len(pool_means) > 1 else float("nan")
        se = statistics.fmean(r.standard_error for r in usable)
        covered = statistics.fmean(1.0 if r.low <= r.target <= r.high else 0.0 for r in usable)
        met = abs(bias) <= 0.1 * abs(truth) or abs(bias) <= 0.1 * se
        print(f"{share:>5.0%} {unit:<8} {kind:<10} {len(usable):>3}/{total:<3} "
              f"{statistics.fmean(r.held_out_units for r in usable):>5.1f} "
              f"{statistics.fmean(r.truth for r in usable):>7.2f} {own_text} "
              f"{statistics.fmean(r.estimate for r in usable):>8.2f} {bias:>+7.2f} {bias_se:>6.2f} "
              f"{statistics.median(errors):>+7.2f} {se:>6.2f} "
              f"{bias / truth if truth else float('nan'):>+9.1%} {bias / se:>+7.2f} {covered:>7.0%} "
              f"{statistics.fmean(r.spill for r in usable):>+7.2f} {own_spill_text}  {'met' if met else 'missed'}")
    print("  (reps = replications with 2 units in each arm / all; held = mean held-out units (ad sets, or campaigns);\n"
          "   true = agent - none on the treated ad sets (everything the agent did to them, other kinds included);\n"
          "   own = agent - (agent without this kind's actions): the kind's own effect, judged where simulated;\n"
          "   bias = mean of estimate - own (else true), +- its standard error clustered by pool of worlds; median = the\n"
          "   median of estimate - own (else true); SE = the mean\n"
          "   bootstrap standard error of one estimate; spill = what the treated actions did to the held-out ad sets,\n"
          "   the interference, all kinds; own sp = ... this kind's actions only; target |bias| <= 10% of truth or <= 0.1 SE)")
    for (share, unit), values in sorted(costs.items()):
        print(f"holdout cost at {share:.0%} per {unit}: {statistics.fmean(values):,.0f} USD of surplus per world over "
              f"{HORIZON} days ({sum(values) / sum(earned):.1%} of the {statistics.fmean(earned):,.0f} USD the "
              f"eligible actions earned)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1,
                        help="the first seed (run 1-40 and 41-80 as two processes to use two cores)")
    parser.add_argument("--draws", type=int, default=5, help="randomizations per seed (same world and noise)")
    parser.add_argument("--replications", type=int, default=400)
    parser.add_argument("--share", default="0.1,0.5",
                        help="holdout share(s) in the simulator part, comma-separated (each from the same worlds)")
    parser.add_argument("--unit", default="entity,campaign",
                        help="unit(s) of randomization, comma-separated: entity (each ad set draws its arm) and/or "
                             "campaign (one draw per campaign and kind)")
    parser.add_argument("--own-truth", default="pause,set_budget",
                        help="kinds whose own effect is simulated (one more world per randomization and kind)")
    parser.add_argument("--pool", type=int, default=4,
                        help="worlds (seeds) pooled into one replication's estimate, as the report pools accounts")
    args = parser.parse_args()
    shares, units = _floats(args.share), _units(args.unit)
    if not shares or any(not 0 < share < 1 for share in shares) or args.pool < 1 or args.seeds < args.pool \
            or args.replications < 0:
        raise SystemExit("--share: between 0 and 1; --pool: at least 1 and at most --seeds; --replications: 0 or more")
    started = time.monotonic()
    pools: dict[int, list[dict[tuple[float, str, int], list[Unit]]]] = defaultdict(list)
    costs: dict[tuple[float, str], list[float]] = defaultdict(list)
    earned = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        randomizations, seed_costs, seed_earned = one_seed(seed, shares, units, args.draws,
                                                           [k for k in args.own_truth.split(",") if k])
        pools[(seed - args.first_seed) // args.pool].append(randomizations)
        for key, cost in seed_costs.items():
            costs[key].append(cost)
        earned.append(seed_earned)
    rows: dict[tuple[float, str, str], list[tuple[int, Row]]] = defaultdict(list)
    replications: dict[tuple[float, str], int] = defaultdict(int)
    for pool, worlds in sorted(pools.items()):
        if len(worlds) < args.pool:  # an incomplete last pool would mix sizes
            continue
        for randomization in worlds[0]:
            share, unit, draw = randomization
            pooled = [u for world in worlds for u in world[randomization]]
            replications[(share, unit)] += 1
            for kind in sorted({u.outcome.kind for u in pooled}):
                row = pooled_replication(pooled, kind, seed=pool * 1000 + draw)
                rows[(share, unit, kind)].extend([] if row is None else [(pool, row)])
    print(f"simulator: {args.seeds} seeds from {args.first_seed} x {args.draws} randomizations, {args.pool} worlds pooled per replication, "
          f"horizon {HORIZON} days, target ROAS {TARGET_ROAS} (surplus in USD per treated ad set and day)")
    print_simulator(rows, replications, costs, earned)
    if args.replications > 0:  # 0: the simulator part only
        print(f"coverage of 90% intervals, synthetic panel, {args.replications} replications each (target 85-95%):")
        for n, share in ((200, 0.1), (100, 0.2), (60, 0.5), (30, 0.1)):
            coverage_rate, synthetic_bias = coverage(args.replications, n, share)
            print(f"  {n:>4} entities, share {share:.0%}: coverage {coverage_rate:.1%}, mean bias {synthetic_bias:+.2f} "
                  f"(true effect 20.00 per entity and day)")
        print(f"clustered synthetic panel (campaigns of 3-6 entities, a campaign-wide shock, treated campaign-mates raise a "
              f"held-out entity's surplus by up to {CLUSTER_SPILL:.0f}/day), {args.replications} replications each:")
        for clusters, share in ((100, 0.1), (40, 0.5), (30, 0.1)):
            for unit, bootstrap in ((ENTITY, ENTITY), (CAMPAIGN, ENTITY), (CAMPAIGN, CAMPAIGN)):
                coverage_rate, synthetic_bias, held = clustered_coverage(args.replications, clusters, share, unit, bootstrap)
                print(f"  {clusters:>4} campaigns, share {share:.0%}, drawn per {unit:<8}, bootstrap over "
                      f"{'campaigns' if bootstrap == CAMPAIGN else 'entities '}: coverage {coverage_rate:.1%}, "
                      f"mean bias {synthetic_bias:+.2f} (true 20.00; {held:.1f} held-out units)")
    right, right_clear, median_days, no_winner = copy_tests(1000)
    print(f"copy tests (1,000 simulated, daily looks, bound |z| >= 2.8, at most 28 days): {no_winner} ended without a "
          f"clear winner; the others kept the truly better ad in {right:.1%} ({right_clear:.1%} where the true CTRs "
          f"differ by >= 10%; target >= 90%), median duration of every test {median_days:.0f} days")
    print(f"[{time.monotonic() - started:.0f} s]")


if __name__ == "__main__":
    main()
