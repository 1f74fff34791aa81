"""The CTR predictor corrected by its errors on real launches, per platform.

The selection correction (agent/copywriter/selection.py) learns from the account's existing ads how
much of a predicted lift holds out of sample. What it cannot see is how a *drafted* text fares: a
draft combines several winning components at once, further from the ads the model was fitted on.
Each copy test that ends on its stopping rule shows one such error: the launched draft's observed
CTR against its prediction (agent/experiments/copy_tests.py). On the simulator they came out
8-10% low on Google Ads and LinkedIn, and the 80% intervals held 47-62% of the observed CTRs
(docs/experiments.md).

From the launches of the platform (every account's: the predictor is the same), in log CTR:

- **shift**: the mean error (observed - predicted), shrunk toward 0 by n / (n + `PRIOR_LAUNCHES`),
  so a handful of launches moves the prediction a little and many move it to their mean;
- **spread**: the errors' standard deviation around their mean, once there are `MIN_LAUNCHES_FOR_SPREAD`
  of them: the interval is at least that wide (an observed CTR over a test carries its own sampling
  noise, and coverage is judged against it).

Each launch's error is read against its prediction *before* the shift then in force (the copy test
records it), so a shift is never learnt from itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from statistics import NormalDist

from agent.copywriter.ctr_model import CtrPrediction

PRIOR_LAUNCHES = 5.0
MIN_LAUNCHES_FOR_SPREAD = 5


@dataclass(frozen=True)
class Launch:
    """One launched draft that ended on the rule: its predicted CTR as proposed, the shift that
    prediction carried (0 before there was any), and the CTR it showed over the test."""

    predicted_ctr: float
    observed_ctr: float
    log_shift: float = 0.0

    @property
    def log_error(self) -> float:
        """log(observed) - log(prediction before the shift)."""
        return math.log(self.observed_ctr) - (math.log(self.predicted_ctr) - self.log_shift)


@dataclass(frozen=True)
class LaunchFeedback:
    """What a platform's launches say about the predictor: a log shift and a floor on the spread."""

    log_shift: float
    error_sd: float | None
    launches: int
    mean_error: float

    def apply(self, prediction: CtrPrediction) -> CtrPrediction:
        """The prediction moved by the shift, its interval (same level) at least `error_sd` wide."""
        if prediction.ctr <= 0 or prediction.low <= 0 or prediction.high <= 0:
            return prediction
        z = NormalDist().inv_cdf(0.5 + prediction.level / 2)
        mean = math.log(prediction.ctr) + self.log_shift
        sigma = max((math.log(prediction.high) - math.log(prediction.low)) / (2 * z), self.error_sd or 0.0)
        return replace(prediction, ctr=math.exp(mean), low=math.exp(mean - z * sigma),
                       high=math.exp(mean + z * sigma), feedback=self)

    def as_evidence(self) -> dict[str, float | int | None]:
        return {"log_shift": round(self.log_shift, 4), "launches": self.launches,
                "mean_error": round(self.mean_error, 4),
                "error_sd": None if self.error_sd is None else round(self.error_sd, 4)}


def launch_feedback(launches: Iterable[Launch]) -> LaunchFeedback | None:
    """The feedback of a platform's launches; None without one (a launch needs both CTRs above 0)."""
    errors = [launch.log_error for launch in launches if launch.predicted_ctr > 0 and launch.observed_ctr > 0]
    n = len(errors)
    if n == 0:
        return None
    mean = sum(errors) / n
    spread = math.sqrt(sum((e - mean) ** 2 for e in errors) / (n - 1)) if n >= MIN_LAUNCHES_FOR_SPREAD else None
    return LaunchFeedback(mean * n / (n + PRIOR_LAUNCHES), spread, n, mean)
