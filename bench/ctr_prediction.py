"""How well the copywriter's CTR model predicts the simulator's hidden truth: prints figures.

    python bench/ctr_prediction.py [--seeds 3] [--days 60] [--ads-per-ad-set 3] [--drafts 4]

Worlds: one Google, one Meta and one LinkedIn account per seed (3 campaigns x 3 ad sets). Two tests:
1. held-out ads: each existing ad is left out in turn, the model is fitted on the others and the
   left-out ad's CTR predicted; compared with `Truth.true_ctr` (a fresh impression's expected CTR).
2. new creatives: the offline drafter writes `--drafts` variants per ad set; each is added PAUSED to
   the simulated world so the simulator scores its text, and the prediction made before is compared
   with its true CTR. These are the variants the copywriter would actually propose (selected for a
   high prediction, so the winner's curse shows here if anywhere).
Figures per model (ridge, empirical_bayes, baseline = ad-set mean): Spearman of predicted vs true
CTR over all ads (mostly ad-set differences), Spearman of predicted vs true lift over the ad set's
ads (what the words add), mean absolute log error, and the share of true CTRs inside the 80%
interval (target 75-85%).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.copywriter.ctr_model import FITTERS, FittedModel, TrainingSet, refitter  # noqa: E402
from agent.copywriter.drafting import DraftRequest  # noqa: E402
from agent.copywriter.features import FEATURE_NAMES  # noqa: E402
from agent.copywriter.history import AdText, ad_set_context  # noqa: E402
from agent.copywriter.offline import OfflineDrafter  # noqa: E402
from agent.copywriter.proposals import AccountModel, learn_account  # noqa: E402
from agent.copywriter.selection import selection_correction  # noqa: E402
from agent.copywriter.settings import CopywriterSettings  # noqa: E402
from connectors.simulator.dynamics import Observation, simulate  # noqa: E402
from connectors.simulator.state import AppliedMutation  # noqa: E402
from connectors.simulator.world import SimAccountSpec, build_world  # noqa: E402
from policies.base import Snapshot  # noqa: E402

MODELS = ("ridge", "empirical_bayes", "baseline")
START = date(2026, 1, 5)


def snapshot_of(observation: Observation, account_id: str, platform: str) -> Snapshot:
    entities = {e.entity_id: e for e in observation.entities if e.account_id == account_id}
    daily: dict[str, list] = defaultdict(list)
    for row in observation.metrics:
        if row.account_id == account_id:
            daily[row.entity_id].append(row)
    return Snapshot(account_id=account_id, platform=platform, currency="USD", timezone="UTC",
                    today=observation.as_of, entities=entities,
                    daily={k: sorted(v, key=lambda r: r.day) for k, v in daily.items()},
                    audiences=[a for a in observation.audiences if a.account_id == account_id])


def _ranks(values: list[float]) -> np.ndarray:
    """Ranks with ties averaged (a constant prediction has no ranking to offer)."""
    array = np.asarray(values, dtype=float)
    order = np.argsort(array, kind="stable")
    ranks = np.empty(len(array))
    sorted_values = array[order]
    start = 0
    while start < len(array):
        end = start
        while end + 1 < len(array) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2
        start = end + 1
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation; nan when either side is constant."""
    if len(a) < 3:
        return float("nan")
    ranks_a, ranks_b = _ranks([round(v, 9) for v in a]), _ranks([round(v, 9) for v in b])
    if ranks_a.std() == 0 or ranks_b.std() == 0:
        return float("nan")
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


@dataclass
class Scores:
    predicted: list[float] = field(default_factory=list)
    true: list[float] = field(default_factory=list)
    predicted_lift: list[float] = field(default_factory=list)
    true_lift: list[float] = field(default_factory=list)
    inside: list[bool] = field(default_factory=list)

    def add(self, predicted: float, low: float, high: float, baseline: float, true: float, true_base: float) -> None:
        self.predicted.append(predicted)
        self.true.append(true)
        self.predicted_lift.append(math.log(predicted / baseline))
        self.true_lift.append(math.log(true / true_base))
        self.inside.append(low <= true <= high)

    def line(self, name: str) -> str:
        errors = np.log(self.predicted) - np.log(self.true)
        error, bias = (float(np.mean(np.abs(errors))), float(np.mean(errors))) if self.true else (math.nan, math.nan)
        return (f"  {name:<16} n={len(self.true):4d}  spearman(ctr)={spearman(self.predicted, self.true):6.3f}  "
                f"spearman(lift)={spearman(self.predicted_lift, self.true_lift):6.3f}  "
                f"mean|log err|={error:6.3f}  bias={bias:+6.3f}  coverage80={np.mean(self.inside) if self.inside else float('nan'):6.1%}")


def held_out(snapshot: Snapshot, truth_ctr: dict[str, float], settings: CopywriterSettings,
             scores: dict[str, Scores]) -> None:
    learnt = learn_account(snapshot, settings)
    vectors = {r.ad_id: learnt.features(r.text, r.ad_set_id) for r in learnt.history}
    data = TrainingSet.build(learnt.history, vectors)
    for index, record in enumerate(learnt.history):
        siblings = [r for r in learnt.history if r.ad_set_id == record.ad_set_id and r.ad_id != record.ad_id]
        if not siblings:
            continue
        rest = data.without(index)
        true_base = math.exp(np.mean([math.log(truth_ctr[r.ad_id]) for r in siblings]))
        for name in MODELS:
            model = FITTERS[name](rest)
            prediction = model.predict(vectors[record.ad_id], record.ad_set_id, 0.8)
            scores[name].add(prediction.ctr, prediction.low, prediction.high, prediction.baseline_ctr,
                             truth_ctr[record.ad_id], true_base)


def _scorer(learnt: AccountModel, model: FittedModel, ad_set_id: str) -> Callable[[AdText], float]:
    return lambda text: model.predict_log(learnt.features(text, ad_set_id), ad_set_id)[0]


def new_creatives(world, observation: Observation, snapshot: Snapshot, settings: CopywriterSettings, drafts: int,
                  scores: dict[str, Scores], selector: str | None = None,
                  corrected: dict[str, Scores] | None = None) -> None:
    """Score drafts against the simulator. `selector`: the model that ranks the drafts (and is the
    only one scored: the winner's curse of its own picks); None ranks by component scores."""
    learnt = learn_account(snapshot, settings)
    vectors = {r.ad_id: learnt.features(r.text, r.ad_set_id) for r in learnt.history}
    data = TrainingSet.build(learnt.history, vectors)
    models = {name: FITTERS[name](data) for name in MODELS}
    planned = []
    for ad_set in sorted((e for e in snapshot.entities.values() if e.level == "ad_set"), key=lambda e: e.entity_id):
        context = ad_set_context(snapshot, ad_set)
        request = DraftRequest(snapshot.platform, learnt.limits, context, settings.brand, learnt.patterns,
                               learnt.history, drafts, "bench", learnt.themes,
                               score=_scorer(learnt, models[selector], ad_set.entity_id) if selector else None)
        for number, variant in enumerate(OfflineDrafter().draft(request).variants):
            ad_id = f"{ad_set.entity_id}-bench{number}"
            planned.append((ad_id, ad_set.entity_id, variant))
    mutations = [AppliedMutation("new_ad", snapshot.account_id, ad_set_id,
                                 {"ad_set_id": ad_set_id, "headlines": list(v.headlines),
                                  "descriptions": list(v.descriptions), "status": "PAUSED", "new_ad_id": ad_id},
                                 observation.as_of)
                 for ad_id, ad_set_id, v in planned]
    truth = simulate(world, mutations, observation.as_of).truth
    corrections = {name: selection_correction(data, refitter(models[name])) for name in MODELS
                   if corrected is not None and name == selector}
    for ad_id, ad_set_id, variant in planned:
        existing = [e.entity_id for e in snapshot.entities.values() if e.level == "ad" and e.parent_id == ad_set_id]
        true_base = math.exp(np.mean([math.log(truth.true_ctr[a]) for a in existing]))
        for name, model in models.items():
            if selector and name != selector:
                continue
            prediction = model.predict(learnt.features(variant.text, ad_set_id), ad_set_id, 0.8)
            scores[name].add(prediction.ctr, prediction.low, prediction.high, prediction.baseline_ctr,
                             truth.true_ctr[ad_id], true_base)
            correction = corrections.get(name)
            if corrected is not None and correction is not None:
                fixed = correction.apply(prediction)
                corrected[name].add(fixed.ctr, fixed.low, fixed.high, fixed.baseline_ctr, truth.true_ctr[ad_id],
                                    true_base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--ads-per-ad-set", type=int, default=3)
    parser.add_argument("--drafts", type=int, default=4)
    args = parser.parse_args()
    started = time.monotonic()
    settings = CopywriterSettings()
    held: dict[str, Scores] = {name: Scores() for name in MODELS}
    fresh: dict[str, Scores] = {name: Scores() for name in MODELS}
    per_platform: dict[str, dict[str, Scores]] = defaultdict(lambda: {name: Scores() for name in MODELS})
    own: dict[str, Scores] = {name: Scores() for name in MODELS[:2]}
    corrected: dict[str, Scores] = {name: Scores() for name in MODELS[:2]}
    for seed in range(1, args.seeds + 1):
        specs = [SimAccountSpec(f"s{seed}-{p}", p, p, "USD", "UTC", 3, 3, args.ads_per_ad_set)
                 for p in ("google_ads", "meta", "linkedin")]
        world = build_world(seed, specs, START)
        observation = simulate(world, [], START + timedelta(days=args.days))
        for spec in specs:
            snapshot = snapshot_of(observation, spec.account_id, spec.platform)
            held_out(snapshot, observation.truth.true_ctr, settings, held)
            held_out(snapshot, observation.truth.true_ctr, settings, per_platform[spec.platform])
            new_creatives(world, observation, snapshot, settings, args.drafts, fresh)
            for name in own:
                new_creatives(world, observation, snapshot, settings, args.drafts, own, selector=name,
                              corrected=corrected)
    print(f"CTR prediction on the simulator: {args.seeds} seeds x 3 accounts, {args.days} days, "
          f"{args.ads_per_ad_set} ads per ad set, {len(FEATURE_NAMES)} text features")
    print("1. held-out existing ads (leave one ad out):")
    for name in MODELS:
        print(held[name].line(name))
    for platform, scores in sorted(per_platform.items()):
        print(f"   {platform}:")
        for name in MODELS:
            print("  " + scores[name].line(name))
    print(f"2. new creatives from the offline drafter ({args.drafts} per ad set, added paused, scored by the simulator):")
    for name in MODELS:
        print(fresh[name].line(name))
    print("3. new creatives ranked by the model itself (what it would propose; winner's curse shows in bias):")
    for name, own_scores in own.items():
        print(own_scores.line(name))
    print("4. the same picks corrected for selection (agent/copywriter/selection.py: lift shrunk by the model's "
          "leave-one-ad-out errors, interval at least their spread):")
    for name, fixed_scores in corrected.items():
        print(fixed_scores.line(name))
    print(f"({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
