"""A launched copy draft tested against the ad it challenges: when to stop, who wins, and how well
the CTR predictor did.

Sequential test, checked once a day: the two-proportion z statistic of the click-through rates
(clicks / impressions), stopped when |z| reaches `z_bound`. A bound of 2.8 keeps the chance of a
false winner near 5% over up to 28 daily looks (Pocock's constant boundary), so looking every day does
not inflate it the way a fixed 1.96 would. When both arms have `min_conversions` conversions, the
conversion rate per click is tested the same way, and a CTR winner that converts clearly worse
(its conversion z past the bound the other way) is not declared. At `max_days` the test ends: the
higher observed CTR keeps running (the cost of a wrong call between two ads that close is small).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from connectors.records import Entity
from policies.base import Snapshot

RUNNING, CHALLENGER_WINS, CONTROL_WINS = "running", "challenger_wins", "control_wins"


@dataclass(frozen=True)
class ArmCounts:
    impressions: int
    clicks: int
    conversions: float = 0.0


@dataclass(frozen=True)
class CopyTestSettings:
    z_bound: float = 2.8
    max_days: int = 28
    min_impressions: int = 1000  # per arm, before any verdict
    min_conversions: float = 30.0  # per arm, before the conversion rate counts


@dataclass(frozen=True)
class CopyTestDecision:
    status: str
    reason: str
    z_ctr: float | None = None
    z_conversion_rate: float | None = None


def two_proportion_z(successes_a: float, trials_a: float, successes_b: float, trials_b: float) -> float | None:
    """z of (rate b - rate a) with the pooled variance; None without trials or variance."""
    if trials_a <= 0 or trials_b <= 0:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance <= 0:
        return None
    return (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)


def decide_copy_test(control: ArmCounts, challenger: ArmCounts, days_running: int,
                     settings: CopyTestSettings) -> CopyTestDecision:
    """The day's verdict on a running test."""
    z_ctr = two_proportion_z(control.clicks, control.impressions, challenger.clicks, challenger.impressions)
    z_cvr = None
    if min(control.conversions, challenger.conversions) >= settings.min_conversions:
        z_cvr = two_proportion_z(control.conversions, control.clicks, challenger.conversions, challenger.clicks)
    enough = min(control.impressions, challenger.impressions) >= settings.min_impressions
    if enough and z_ctr is not None and abs(z_ctr) >= settings.z_bound:
        challenger_ahead = z_ctr > 0
        if z_cvr is not None and (z_cvr if challenger_ahead else -z_cvr) <= -settings.z_bound:
            pass  # more clicks that convert clearly worse: no winner yet
        else:
            return CopyTestDecision(CHALLENGER_WINS if challenger_ahead else CONTROL_WINS,
                                    f"CTR differs: z = {z_ctr:+.2f} past the bound {settings.z_bound}", z_ctr, z_cvr)
    if days_running >= settings.max_days:
        control_ctr = control.clicks / control.impressions if control.impressions else 0.0
        challenger_ctr = challenger.clicks / challenger.impressions if challenger.impressions else 0.0
        winner = CHALLENGER_WINS if challenger_ctr > control_ctr else CONTROL_WINS
        return CopyTestDecision(winner, f"maximum duration of {settings.max_days} days reached: the higher "
                                         "observed CTR keeps running", z_ctr, z_cvr)
    return CopyTestDecision(RUNNING, "no verdict yet", z_ctr, z_cvr)


@dataclass(frozen=True)
class LaunchedPrediction:
    """A launched draft's predicted CTR interval and the CTR it showed."""

    predicted_ctr: float
    low: float
    high: float
    observed_ctr: float


@dataclass(frozen=True)
class Calibration:
    launches: int
    coverage: float | None  # share of observed CTRs inside the predicted interval (80% nominal)
    log_bias: float | None  # mean log(observed / predicted): > 0 means the predictor was too low
    bias: float | None = None  # mean (observed - predicted) CTR, in CTR units (0.001 = 0.1 point)


def calibration(launches: Sequence[LaunchedPrediction]) -> Calibration:
    """How well the predictor did on real launches (group by platform before calling)."""
    usable = [p for p in launches if p.predicted_ctr > 0 and p.observed_ctr > 0]
    if not usable:
        return Calibration(len(launches), None, None)
    inside = sum(1 for p in usable if p.low <= p.observed_ctr <= p.high)
    log_bias = sum(math.log(p.observed_ctr / p.predicted_ctr) for p in usable) / len(usable)
    bias = sum(p.observed_ctr - p.predicted_ctr for p in usable) / len(usable)
    return Calibration(len(launches), inside / len(usable), log_bias, bias)


def arm_counts(snapshot: Snapshot, ad_id: str, start: date, end: date) -> ArmCounts:
    """An ad's impressions, clicks and conversions on the days `start..end` of the snapshot."""
    rows = snapshot.rows(ad_id, start, end)
    return ArmCounts(sum(r.impressions for r in rows), sum(r.clicks for r in rows),
                     float(sum(r.conversions for r in rows)))


def pick_incumbent(snapshot: Snapshot, ad_set_id: str, exclude: Collection[str],
                   window_days: int = 14) -> Entity | None:
    """The ad a new ad in `ad_set_id` challenges: the active ad (not in `exclude`) that served the
    most impressions over the last `window_days` days (ties: the lowest id); None without one."""
    start = snapshot.today - timedelta(days=window_days)
    active = [e for e in snapshot.entities.values() if e.level == "ad" and e.parent_id == ad_set_id
              and e.status == "ACTIVE" and e.entity_id not in exclude]
    if not active:
        return None
    return min(active, key=lambda e: (-arm_counts(snapshot, e.entity_id, start, snapshot.today).impressions,
                                      e.entity_id))
