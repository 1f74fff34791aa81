"""The CTR model's prediction corrected for selection: a draft picked for its high prediction is
pulled back toward its ad set's CTR by the model's own out-of-sample errors, and its interval
widened to them."""

from __future__ import annotations

import math

import numpy as np

from agent.copywriter.ctr_model import CtrPrediction, TrainingSet, fit_ridge, refitter
from agent.copywriter.features import FEATURE_NAMES
from agent.copywriter.selection import SelectionCorrection, selection_correction

AD_SETS, ADS = 10, 4


def _account(rng: np.random.Generator, effect: float) -> tuple[TrainingSet, np.ndarray]:
    """Ads whose log CTR is their ad set's level + `effect` x the first feature + noise: with
    `effect` 0 the features say nothing and whatever the model learns from them is noise."""
    groups = [f"s{g}" for g in range(AD_SETS) for _ in range(ADS)]
    level = {f"s{g}": math.log(0.01) + rng.normal(0, 0.3) for g in range(AD_SETS)}
    features = rng.normal(size=(len(groups), len(FEATURE_NAMES)))
    log_ctr = np.array([level[g] for g in groups]) + effect * features[:, 0] + rng.normal(0, 0.15, len(groups))
    data = TrainingSet(tuple(f"ad{i}" for i in range(len(groups))), tuple(groups), features, log_ctr,
                       np.full(len(groups), 0.005))
    return data, np.array([level[f"s{g}"] for g in range(AD_SETS)])


def test_lifts_that_do_not_hold_out_of_sample_are_shrunk_and_real_ones_kept() -> None:
    rng = np.random.default_rng(3)
    noise, _ = _account(rng, effect=0.0)
    real, _ = _account(rng, effect=0.3)
    for data, low, high in ((noise, 0.0, 0.5), (real, 0.7, 1.0)):
        model = fit_ridge(data, penalty=0.3)  # a light penalty: the model believes its noise
        correction = selection_correction(data, refitter(model))
        assert correction is not None and correction.pairs == AD_SETS * ADS
        assert low <= correction.shrinkage <= high, correction


def test_an_over_predicted_selected_draft_moves_toward_its_ad_sets_ctr_and_the_interval_covers_it() -> None:
    rng = np.random.default_rng(11)
    data, levels = _account(rng, effect=0.0)
    model = fit_ridge(data, penalty=0.3)
    correction = selection_correction(data, refitter(model))
    assert correction is not None
    misses_before = misses_after = 0
    errors_before, errors_after = [], []
    for index, ad_set in enumerate(f"s{g}" for g in range(AD_SETS)):
        # the drafter's variants; the one the model rates highest is proposed (the winner's curse)
        candidates = rng.normal(size=(20, len(FEATURE_NAMES)))
        best = max(candidates, key=lambda x: model.predict_log(x, ad_set)[0])
        raw = model.predict(best, ad_set, 0.8)
        fixed = correction.apply(raw)
        truth = math.exp(levels[index])  # the words do nothing: the ad set's own CTR
        errors_before.append(math.log(raw.ctr / truth))
        errors_after.append(math.log(fixed.ctr / truth))
        misses_before += not raw.low <= truth <= raw.high
        misses_after += not fixed.low <= truth <= fixed.high
        assert raw.baseline_ctr <= fixed.ctr <= raw.ctr  # pulled toward the ad set, never past it
        assert fixed.uncorrected == (raw.ctr, raw.low, raw.high)
    assert np.mean(errors_before) > 0.1  # selected drafts over-predicted
    assert abs(np.mean(errors_after)) < np.mean(errors_before) / 2
    assert misses_after <= 2 and misses_after < misses_before


def test_apply_shrinks_the_lift_and_widens_the_interval_to_the_out_of_sample_error() -> None:
    prediction = CtrPrediction(0.02, 0.018, 0.022, 0.01, 0.8, "ridge", 30)
    fixed = SelectionCorrection(shrinkage=0.5, error_variance=0.2**2, pairs=30).apply(prediction)
    assert math.isclose(fixed.ctr, 0.01 * math.sqrt(2))
    z = 1.2815515655446004
    assert math.isclose(math.log(fixed.high / fixed.ctr), z * 0.2, rel_tol=1e-9)
    assert math.isclose(math.log(fixed.ctr / fixed.low), z * 0.2, rel_tol=1e-9)
    evidence = fixed.as_evidence()
    assert evidence["uncorrected"] == {"ctr": 0.02, "interval": [0.018, 0.022]}
    # a wider model interval is kept
    wide = CtrPrediction(0.02, 0.005, 0.08, 0.01, 0.8, "ridge", 30)
    kept = SelectionCorrection(1.0, 0.01**2, 30).apply(wide)
    assert math.isclose(kept.low, 0.005) and math.isclose(kept.high, 0.08)
