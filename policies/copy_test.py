"""A launched copy draft tested against the ad it challenges: when to stop, who wins, and how well
the CTR predictor did.

Sequential test, checked once a day on the complete days after the launch day (the launch day is
partial: the new ad starts at some hour, after its review, while the incumbent served the whole day,
so the two would compare different hours): the two-proportion z statistic of the click-through rates
(clicks / impressions), stopped when |z| reaches `z_bound`. A bound of 2.8 keeps the chance of a
false winner near 5% over up to 28 daily looks (Pocock's constant boundary), so looking every day does
not inflate it the way a fixed 1.96 would.

The z treats every impression as an independent draw. When CTRs move from day to day more than
that allows (audience, placement and auction mix change between days, and the two ads' shares of a
day differ), the pooled z is too large. The variance is scaled by the days' dispersion: the Pearson
chi-square of each day's CTR difference around the pooled one, per degree of freedom (quasi-binomial),
counted from `min_dispersion_days` days on and never below 1 (a dispersion under 1 is noise). A
dispersion needs days to be estimated, and a week has weekdays that differ: no verdict comes before
`min_days` days since the launch (8: seven complete days after the launch day). Over 28 daily looks
at two equal ads whose daily CTRs swing by 30% (log sd), the pooled z alone calls a false winner
in most tests; with the week's minimum and the dispersion, in about one in ten (the bound's nominal
5%: estimating the variance from a week of days costs some of it; tests/unit/policies/test_copy_test.py).

When both arms have `min_conversions` conversions, the conversion rate per click is tested the same
way, and a CTR winner that converts clearly worse (its conversion z past the bound the other way) is
not declared. At `max_days` the test ends: the higher observed CTR keeps running if it leads with
|z| >= `final_z` (1.645: ahead at 90% two-sided confidence on the last look); otherwise there is no
winner, nothing is paused and both ads keep running (the platform's rotation then favours the one
that does better). Calling a winner on a coin flip would pause an ad on no evidence.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from connectors.records import Entity
from policies.base import Snapshot

RUNNING, CHALLENGER_WINS, CONTROL_WINS, NO_WINNER = "running", "challenger_wins", "control_wins", "no_winner"
# ended on the stopping rule, with a verdict or none at the maximum duration: the launched ad served the
# whole test, so its observed CTR is a fair check of its prediction
JUDGED_OUTCOMES = (CHALLENGER_WINS, CONTROL_WINS, NO_WINNER)


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
    final_z: float = 1.645  # at max_days, the lead a winner needs; below it the test ends without one
    min_dispersion_days: int = 4  # days with both ads served before their dispersion scales the z
    min_days: int = 8  # days since the launch before any verdict: a whole week after the launch day


@dataclass(frozen=True)
class CopyTestDecision:
    status: str
    reason: str
    z_ctr: float | None = None
    z_conversion_rate: float | None = None
    dispersion: float = 1.0  # the factor the CTR z's variance was scaled by


def two_proportion_z(successes_a: float, trials_a: float, successes_b: float, trials_b: float) -> float | None:
    """z of (rate b - rate a) with the pooled variance; None without trials or variance."""
    if trials_a <= 0 or trials_b <= 0:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance <= 0:
        return None
    return (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)


def dispersion(days: Sequence[tuple[ArmCounts, ArmCounts]]) -> tuple[float, int]:
    """(Pearson chi-square per degree of freedom, days used) of the daily CTR differences (challenger
    minus control) around their inverse-variance mean; `days` holds (control, challenger) per day.
    1.0 means the days vary as much as binomial draws would; days an ad did not serve are skipped."""
    differences, weights = [], []
    for control, challenger in days:
        if control.impressions <= 0 or challenger.impressions <= 0:
            continue
        pooled = (control.clicks + challenger.clicks) / (control.impressions + challenger.impressions)
        variance = pooled * (1 - pooled) * (1 / control.impressions + 1 / challenger.impressions)
        if variance <= 0:
            continue
        differences.append(challenger.clicks / challenger.impressions - control.clicks / control.impressions)
        weights.append(1 / variance)
    if len(differences) < 2:
        return 1.0, len(differences)
    mean = sum(d * w for d, w in zip(differences, weights, strict=True)) / sum(weights)
    chi_square = sum(w * (d - mean) ** 2 for d, w in zip(differences, weights, strict=True))
    return chi_square / (len(differences) - 1), len(differences)


def decide_copy_test(control: ArmCounts, challenger: ArmCounts, days_running: int,
                     settings: CopyTestSettings,
                     days: Sequence[tuple[ArmCounts, ArmCounts]] = ()) -> CopyTestDecision:
    """The day's verdict on a running test. `control` and `challenger` are the test's totals;
    `days` its (control, challenger) counts per day, for their dispersion (none: binomial)."""
    z_ctr = two_proportion_z(control.clicks, control.impressions, challenger.clicks, challenger.impressions)
    spread, served_days = dispersion(days)
    scale = spread if served_days >= settings.min_dispersion_days and spread > 1 else 1.0
    if z_ctr is not None and scale > 1:
        # an estimated variance: the statistic is Student's t on (days - 1) degrees of freedom, given
        # back on the normal scale (the same tail probability) so one bound serves both
        statistic = z_ctr / math.sqrt(scale)
        from scipy.stats import norm  # imported here: scipy.stats costs every command a second to start
        from scipy.stats import t as student_t
        tail = float(student_t.sf(abs(statistic), served_days - 1))
        z_ctr = math.copysign(float(norm.isf(tail)) if tail > 0 else abs(statistic), statistic)
    z_cvr = None
    if min(control.conversions, challenger.conversions) >= settings.min_conversions:
        z_cvr = two_proportion_z(control.conversions, control.clicks, challenger.conversions, challenger.clicks)
    enough = (min(control.impressions, challenger.impressions) >= settings.min_impressions
              and days_running >= settings.min_days)
    if enough and z_ctr is not None and abs(z_ctr) >= settings.z_bound:
        challenger_ahead = z_ctr > 0
        if z_cvr is not None and (z_cvr if challenger_ahead else -z_cvr) <= -settings.z_bound:
            pass  # more clicks that convert clearly worse: no winner yet
        else:
            return CopyTestDecision(CHALLENGER_WINS if challenger_ahead else CONTROL_WINS,
                                    f"CTR differs: z = {z_ctr:+.2f} past the bound {settings.z_bound}", z_ctr, z_cvr, scale)
    if days_running >= settings.max_days:
        if not enough or z_ctr is None or abs(z_ctr) < settings.final_z:
            shown = "no CTR to compare" if z_ctr is None else f"z = {z_ctr:+.2f}"
            return CopyTestDecision(NO_WINNER, f"maximum duration of {settings.max_days} days reached without a "
                                               f"clear lead ({shown}, under {settings.final_z}"
                                               f"{'' if enough else ' or too little data'}): both ads keep "
                                               "running", z_ctr, z_cvr, scale)
        winner = CHALLENGER_WINS if z_ctr > 0 else CONTROL_WINS
        return CopyTestDecision(winner, f"maximum duration of {settings.max_days} days reached: the higher "
                                         f"observed CTR leads with z = {z_ctr:+.2f} and keeps running", z_ctr, z_cvr, scale)
    return CopyTestDecision(RUNNING, "no verdict yet", z_ctr, z_cvr, scale)


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


def daily_pairs(snapshot: Snapshot, control_id: str, challenger_id: str, start: date,
                end: date) -> list[tuple[ArmCounts, ArmCounts]]:
    """(control, challenger) counts of each day `start..end` of the snapshot (an ad without a row
    that day counts zero)."""
    by_day: dict[date, list[ArmCounts]] = {}
    for position, ad_id in enumerate((control_id, challenger_id)):
        for row in snapshot.rows(ad_id, start, end):
            pair = by_day.setdefault(row.day, [ArmCounts(0, 0), ArmCounts(0, 0)])
            pair[position] = ArmCounts(row.impressions, row.clicks, float(row.conversions))
    return [(pair[0], pair[1]) for _, pair in sorted(by_day.items())]


def first_counted_day(started_on: date) -> date:
    """The first day a test counts: the day after its launch (the launch day is partial)."""
    return started_on + timedelta(days=1)


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
