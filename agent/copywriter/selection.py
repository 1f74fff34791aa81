"""The CTR model's predictions corrected for selection, from the model's own out-of-sample errors.

A draft is proposed because the model rates it highest among the variants, for an ad set picked for
its low CTR: a prediction chosen for being high is, on average, too high (the winner's curse). What
corrects it is how the model's predicted lifts held up on ads it did not see. Each ad with a
sibling is left out in turn, the model refitted on the others, and the left-out ad's predicted lift
over its ad set's baseline (`p`, in log CTR) compared with the lift it showed (`o`):

- **shrinkage** `k` = sum(p o) / sum(p p), clipped to 0..1: the share of a predicted lift that held
  out of sample (regression of the shown lift on the predicted one, through the baseline). Given the
  prediction, the expected truth is `baseline + k p` whichever way the draft was picked: selection
  on `p` is what conditioning on `p` undoes. With fewer than `MIN_PAIRS` left-out ads the factor is
  pulled toward `PRIOR_SHRINKAGE` (a ridge on k: sum(p o) + c k0 / (sum(p p) + c)).
- **error variance**: the mean square of `o - k p` (with a small-sample factor n / (n - 1)): how
  far a shown CTR lands from the corrected prediction, sampling noise of a first fortnight included.
  The interval is widened to it when the model's own variance is smaller.

The correction is fitted per account, so per platform; it is estimated on what the account's own ads
showed (their fresh CTRs in the snapshot), never on a simulator's truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from agent.copywriter.ctr_model import CtrPrediction, FittedModel, TrainingSet, held_out_indexes

MIN_PAIRS = 8
PRIOR_SHRINKAGE = 0.5


@dataclass(frozen=True)
class SelectionCorrection:
    """How the model's predicted lifts held up out of sample."""

    shrinkage: float  # share of a predicted lift (log CTR over the baseline) kept, 0..1
    error_variance: float  # of log CTR around the corrected prediction
    pairs: int  # left-out ads behind the figures

    def apply(self, prediction: CtrPrediction) -> CtrPrediction:
        """The prediction's lift shrunk by `shrinkage`, its interval at least as wide as the
        out-of-sample error (same level, centred on the corrected prediction)."""
        if prediction.ctr <= 0 or prediction.baseline_ctr <= 0 or prediction.low <= 0:
            return prediction
        z = NormalDist().inv_cdf(0.5 + prediction.level / 2)
        baseline = math.log(prediction.baseline_ctr)
        mean = baseline + self.shrinkage * (math.log(prediction.ctr) - baseline)
        model_sigma = (math.log(prediction.high) - math.log(prediction.low)) / (2 * z)
        sigma = max(model_sigma, math.sqrt(self.error_variance))
        return replace(prediction, ctr=math.exp(mean), low=math.exp(mean - z * sigma), high=math.exp(mean + z * sigma),
                       uncorrected=(prediction.ctr, prediction.low, prediction.high))

    def as_evidence(self) -> dict[str, float | int]:
        return {"lift_shrinkage": round(self.shrinkage, 4), "error_sd": round(math.sqrt(self.error_variance), 4),
                "left_out_ads": self.pairs}


def selection_correction(data: TrainingSet, refit: Callable[[TrainingSet], FittedModel]) -> SelectionCorrection | None:
    """Leave-one-ad-out lifts of `refit` on `data`; None without an ad that has a sibling."""
    predicted, shown = [], []
    for index in held_out_indexes(data):
        model = refit(data.without(index))
        group = data.groups[index]
        if group not in model.groups:
            continue
        mean, _, baseline = model.predict_log(data.features[index], group)
        predicted.append(mean - baseline)
        shown.append(float(data.log_ctr[index]) - baseline)
    if not predicted:
        return None
    p, o = np.array(predicted), np.array(shown)
    weight = max(0, MIN_PAIRS - len(p)) * max(float(np.mean(p * p)), 1e-6)
    shrinkage = float(np.clip((p @ o + weight * PRIOR_SHRINKAGE) / (p @ p + weight) if p @ p + weight > 0 else
                              PRIOR_SHRINKAGE, 0.0, 1.0))
    residual = o - shrinkage * p
    n = len(residual)
    variance = float(residual @ residual) / max(n - 1, 1)
    return SelectionCorrection(shrinkage, variance, n)
