"""The predictor fed back its launched drafts' errors (agent/copywriter/launch_feedback.py)."""

from __future__ import annotations

import math
import random

import pytest

from agent.copywriter.ctr_model import CtrPrediction
from agent.copywriter.launch_feedback import PRIOR_LAUNCHES, Launch, launch_feedback


def _prediction(ctr: float = 0.02, half_width: float = 0.05) -> CtrPrediction:
    return CtrPrediction(ctr, ctr * math.exp(-half_width), ctr * math.exp(half_width), baseline_ctr=0.018, level=0.8,
                         model="ridge", training_ads=12)


def _launches(n: int, log_bias: float, spread: float, shift: float = 0.0, seed: int = 3) -> list[Launch]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        before = math.exp(rng.uniform(math.log(0.005), math.log(0.05)))  # the prediction before any shift
        observed = before * math.exp(rng.gauss(log_bias, spread))
        out.append(Launch(before * math.exp(shift), observed, shift))
    return out


def test_no_launch_no_feedback() -> None:
    assert launch_feedback([]) is None
    assert launch_feedback([Launch(0.02, 0.0)]) is None  # an ad that showed no click is no log error


def test_many_launches_recover_the_bias_and_the_spread() -> None:
    feedback = launch_feedback(_launches(400, log_bias=-0.2, spread=0.15))
    assert feedback is not None
    assert feedback.mean_error == pytest.approx(-0.2, abs=0.03)
    assert feedback.log_shift == pytest.approx(-0.2 * 400 / (400 + PRIOR_LAUNCHES), abs=0.03)
    assert feedback.error_sd == pytest.approx(0.15, abs=0.02)


def test_a_few_launches_move_the_prediction_a_little_and_do_not_set_the_spread() -> None:
    feedback = launch_feedback(_launches(2, log_bias=-0.3, spread=0.01))
    assert feedback is not None and feedback.error_sd is None
    assert -0.3 * 2 / 7 - 0.02 < feedback.log_shift < 0  # shrunk toward 0 by n / (n + 5)


def test_a_shift_is_never_learnt_from_itself() -> None:
    # launches proposed with the shift then in force (-0.2) and observed 0.2 below the prediction
    # before it: the error is read against the unshifted prediction, so the bias is still -0.2
    feedback = launch_feedback(_launches(300, log_bias=-0.2, spread=0.1, shift=-0.2))
    assert feedback is not None
    assert feedback.mean_error == pytest.approx(-0.2, abs=0.03)


def test_applied_it_moves_the_prediction_and_widens_a_narrow_interval_around_it() -> None:
    feedback = launch_feedback(_launches(100, log_bias=-0.1, spread=0.3))
    assert feedback is not None and feedback.error_sd is not None
    before = _prediction()
    after = feedback.apply(before)
    assert math.log(after.ctr / before.ctr) == pytest.approx(feedback.log_shift)
    z = 1.2815515655446004  # the 80% interval
    assert math.log(after.high / after.low) == pytest.approx(2 * z * feedback.error_sd)
    assert after.low < after.ctr < after.high
    assert after.as_evidence()["launch_feedback"]["launches"] == 100
    # an interval already wider than the launches' spread keeps its width
    wide = _prediction(half_width=2.0)
    assert math.log(feedback.apply(wide).high / feedback.apply(wide).low) == pytest.approx(4.0)


def test_feedback_brings_the_coverage_of_launched_predictions_near_its_level() -> None:
    # predictions 15% too high with intervals too narrow: before feedback few observed CTRs fall
    # inside; with the feedback of earlier launches, close to the 80% the interval claims
    rng = random.Random(11)
    history = _launches(200, log_bias=-0.15, spread=0.2, seed=5)
    feedback = launch_feedback(history)
    assert feedback is not None
    inside_before = inside_after = 0
    trials = 2000
    for _ in range(trials):
        prediction = _prediction(ctr=math.exp(rng.uniform(math.log(0.005), math.log(0.05))))
        observed = prediction.ctr * math.exp(rng.gauss(-0.15, 0.2))
        inside_before += prediction.low <= observed <= prediction.high
        corrected = feedback.apply(prediction)
        inside_after += corrected.low <= observed <= corrected.high
    assert inside_before / trials < 0.3
    assert 0.74 <= inside_after / trials <= 0.86
