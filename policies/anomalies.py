"""Anomaly flags for the dashboard, and pause proposals for severe runaway spend.

Each scope (the account, each campaign, each active ad set) is checked on the last `check_days`
complete days for spend, CPC, CTR, conversion rate and ROAS against a robust baseline of the
previous `baseline_days` (see `robust_baseline`). A shift is flagged when its robust z-score and its
relative size both pass the thresholds. Two detectors look for known failure modes:
- tracking outage: clicks in their normal range but conversions far below what the baseline
  conversion rate and the lag curve predict, pooled over up to 3 silent days (Poisson P < 0.001);
- runaway spend: spend above `runaway_budget_multiple` x the daily budget (or, without one,
  above `runaway_baseline_multiple` x the weekday-adjusted baseline median).
Flags are deduplicated upwards: a parent's shift explained by a flagged child is not repeated, and
conversion metrics are not flagged separately on a day with a tracking outage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from connectors.records import Entity
from policies.base import PAUSE_CHANGE, Proposal, Snapshot
from policies.conversion_lag import LagCurve, lag_curve
from policies.pacing import weekday_factors
from policies.protection import may_change
from policies.robust_baseline import (
    DayTotals,
    baseline_days,
    metric_value,
    poisson_cdf,
    robust_baseline,
    robust_z,
    sampling_variance,
    scope_series,
)
from policies.settings import AnomalySettings

POLICY_NAME = "anomalies"
METRICS: tuple[str, ...] = ("spend", "cpc", "ctr", "conversion_rate", "roas")
CONVERSION_METRICS = frozenset({"conversion_rate", "roas"})
# The direction in which a metric improves. A shift that way is worth a look (double-counted
# conversions look exactly like a great day) but is never an emergency: at most a warning.
GOOD_DIRECTION = {"cpc": "down", "ctr": "up", "conversion_rate": "up", "roas": "up"}
OUTAGE_P_VALUE = 0.001
OUTAGE_MAX_RUN = 3  # silent days pooled by the tracking-outage test


@dataclass(frozen=True)
class AnomalyFlag:
    """One anomalous metric on one day for one scope, for the dashboard."""

    account_id: str
    scope: str  # "account", "campaign" or "ad_set"
    entity_id: str  # the account id for scope "account"
    entity_name: str
    day: date
    kind: str  # "metric_shift", "tracking_outage" or "runaway_spend"
    metric: str
    observed: float
    expected: float
    robust_z: float
    severity: str  # "warning" or "critical"
    direction: str  # "up" or "down"
    message: str
    explained_by: str = ""  # a known change (our own action, an annotation) that accounts for it


@dataclass(frozen=True)
class _Scope:
    level: str
    entity_id: str
    name: str
    ad_set_ids: tuple[str, ...]
    entity: Entity | None


def _scopes(snapshot: Snapshot) -> list[_Scope]:
    ad_sets = sorted((e for e in snapshot.entities.values() if e.level == "ad_set"), key=lambda e: e.entity_id)
    scopes = [_Scope("account", snapshot.account_id, snapshot.account_id, tuple(e.entity_id for e in ad_sets), None)]
    children: dict[str | None, list[str]] = {}
    for ad_set in ad_sets:
        children.setdefault(ad_set.parent_id, []).append(ad_set.entity_id)
    for campaign in sorted(snapshot.entities.values(), key=lambda e: e.entity_id):
        if campaign.level == "campaign" and children.get(campaign.entity_id):
            scopes.append(_Scope("campaign", campaign.entity_id, campaign.name,
                                 tuple(children[campaign.entity_id]), campaign))
    scopes += [_Scope("ad_set", e.entity_id, e.name, (e.entity_id,), e) for e in ad_sets if e.status == "ACTIVE"]
    return scopes


def _seasonal(metric: str, totals: DayTotals, factors: tuple[float, ...]) -> float | None:
    value = metric_value(metric, totals)
    if value is None:
        return None
    return value / factors[totals.day.weekday()] if metric == "spend" else value


def _daily_budget(snapshot: Snapshot, scope: _Scope) -> float | None:
    if scope.entity is None or scope.entity.daily_budget is None:
        return None
    return float(scope.entity.daily_budget)


class _Detector:
    """Checks scopes on days from `since + baseline_days` on (earlier days are never summed)."""

    def __init__(self, snapshot: Snapshot, settings: AnomalySettings, curve: LagCurve, since: date) -> None:
        self.snapshot, self.settings, self.curve, self.since = snapshot, settings, curve, since
        self.factors = weekday_factors(snapshot, 8)
        self._series: dict[str, dict[date, DayTotals]] = {}

    def flag(self, scope: _Scope, day: date, kind: str, metric: str, observed: float, expected: float,
             z: float, severity: str, message: str) -> AnomalyFlag:
        return AnomalyFlag(self.snapshot.account_id, scope.level, scope.entity_id, scope.name, day, kind, metric,
                           round(observed, 6), round(expected, 6), round(z, 3), severity,
                           "up" if observed >= expected else "down", message)

    def series(self, scope: _Scope) -> dict[date, DayTotals]:
        if scope.entity_id not in self._series:
            self._series[scope.entity_id] = scope_series(self.snapshot, scope.ad_set_ids, self.curve, self.since)
        return self._series[scope.entity_id]

    def history(self, scope: _Scope, day: date, skip: set[date] | frozenset[date] = frozenset()) -> list[DayTotals]:
        series = self.series(scope)
        return [series[d] for d in baseline_days(day, self.settings.baseline_days) if d in series and d not in skip]

    def outage_days_ending(self, scope: _Scope, day: date, skip: set[date]) -> set[date]:
        totals = self.series(scope).get(day)
        if totals is None:
            return set()
        return {flag.day for flag in self._outage(scope, totals, self.history(scope, day, skip))}

    def check(self, scope: _Scope, day: date, skip: set[date] | frozenset[date] = frozenset()) -> list[AnomalyFlag]:
        today_totals = self.series(scope).get(day)
        if today_totals is None:
            return []
        history = self.history(scope, day, skip)
        flags = self._runaway(scope, today_totals, history)
        outage = self._outage(scope, today_totals, history)
        flags += outage
        if today_totals.spend < float(self.settings.min_daily_spend) and not flags:
            return flags
        for metric in METRICS:
            if metric == "spend" and any(f.kind == "runaway_spend" for f in flags):
                continue
            if metric in CONVERSION_METRICS and outage:
                continue
            if metric != "spend" and today_totals.clicks < self.settings.min_clicks:
                continue
            shift = self._shift(scope, metric, today_totals, history)
            if shift is not None:
                flags.append(shift)
        return flags

    def _shift(self, scope: _Scope, metric: str, day: DayTotals, history: list[DayTotals]) -> AnomalyFlag | None:
        values = [v for v in (_seasonal(metric, h, self.factors) for h in history) if v is not None]
        baseline = robust_baseline(values)
        observed = _seasonal(metric, day, self.factors)
        if baseline is None or observed is None or baseline.median <= 0:
            return None
        z = robust_z(observed, baseline, sampling_variance(metric, day, baseline.median))
        relative = abs(observed - baseline.median) / baseline.median
        if abs(z) < self.settings.warning_z or relative < self.settings.min_relative_change:
            return None
        direction = "up" if observed > baseline.median else "down"
        critical = abs(z) >= self.settings.critical_z and GOOD_DIRECTION.get(metric) != direction
        severity = "critical" if critical else "warning"
        label = metric.replace("_", " ")
        seasonal_note = " (weekday-adjusted)" if metric == "spend" else ""
        message = (f"{label}{seasonal_note} {observed:.4g} vs a usual {baseline.median:.4g} on {day.day} "
                   f"({relative:.0%} {'above' if observed > baseline.median else 'below'}, robust z {z:+.1f} "
                   f"over {baseline.days} days)")
        return self.flag(scope, day.day, "metric_shift", metric, observed, baseline.median, z, severity, message)

    def _runaway(self, scope: _Scope, day: DayTotals, history: list[DayTotals]) -> list[AnomalyFlag]:
        if scope.level == "account":
            return []
        budget = _daily_budget(self.snapshot, scope)
        values = [v for v in (_seasonal("spend", h, self.factors) for h in history) if v is not None]
        baseline = robust_baseline(values)
        expected = baseline.median * self.factors[day.day.weekday()] if baseline else None
        z = robust_z(day.spend / self.factors[day.day.weekday()], baseline, 0.0) if baseline else 0.0
        over_budget = budget is not None and budget > 0 and day.spend > self.settings.runaway_budget_multiple * budget
        over_usual = (expected is not None and expected > 0 and z >= self.settings.critical_z
                      and day.spend > self.settings.runaway_baseline_multiple * expected)
        if over_budget and budget is not None:
            reason = f"{day.spend / budget:.1f}x its daily budget of {budget:.2f}"
            reference = budget
        elif over_usual and expected is not None:
            reason = f"{day.spend / expected:.1f}x its usual {expected:.2f}"
            reference = expected
        else:
            return []
        message = f"runaway spend on {day.day}: {day.spend:.2f} {self.snapshot.currency}, {reason}"
        return [self.flag(scope, day.day, "runaway_spend", "spend", day.spend, reference, z, "critical", message)]

    def _outage(self, scope: _Scope, day: DayTotals, history: list[DayTotals]) -> list[AnomalyFlag]:
        """Outage flags for the run of silent days ending on `day` (one flag per day of the run).

        A young day of a small account expects few conversions, so one silent day proves little;
        up to `OUTAGE_MAX_RUN` consecutive silent days are pooled before the Poisson test.
        """
        if scope.level == "ad_set":
            return []
        clicks = robust_baseline([float(h.clicks) for h in history])
        rates = robust_baseline([h.conversions / h.clicks for h in history if h.clicks])
        if clicks is None or rates is None or clicks.median <= 0:
            return []
        series = self.series(scope)
        run: list[DayTotals] = []
        for offset in range(OUTAGE_MAX_RUN):
            current = series.get(day.day - timedelta(days=offset))
            # Traffic that fell too is a delivery problem, not tracking; a converting day ends the run.
            if current is None or current.clicks < 0.5 * clicks.median:
                break
            expected_day = current.clicks * rates.median * current.completeness
            if current.reported_conversions > self.settings.outage_max_ratio * expected_day:
                break
            run.append(current)
            expected = sum(d.clicks * rates.median * d.completeness for d in run)
            observed = sum(d.reported_conversions for d in run)
            p_value = poisson_cdf(observed, expected)
            if expected >= self.settings.outage_min_expected_conversions and p_value < OUTAGE_P_VALUE:
                since = run[-1].day
                message = (f"possible conversion-tracking outage on {{day}}: {sum(d.clicks for d in run)} clicks "
                           f"since {since} (usual {clicks.median:.0f} a day) but {observed:g} conversions reported "
                           f"where about {expected:.1f} were expected at these ages (Poisson p = {p_value:.1e})")
                return [self.flag(scope, d.day, "tracking_outage", "conversions", d.reported_conversions,
                                  d.clicks * rates.median * d.completeness, 0.0, "critical",
                                  message.format(day=d.day)) for d in run]
        return []


def _deduplicate(flags: list[AnomalyFlag], snapshot: Snapshot) -> list[AnomalyFlag]:
    """Drop a parent's flag when a child explains it (same day, metric, direction)."""
    child_keys = {(f.day, f.metric, f.direction, snapshot.entities[f.entity_id].parent_id)
                  for f in flags if f.scope == "ad_set"}
    campaign_keys = {(f.day, f.metric, f.direction) for f in flags if f.scope in ("campaign", "ad_set")}
    outage_days = {f.day for f in flags if f.kind == "tracking_outage"}
    kept = []
    for flag in flags:
        if flag.scope == "campaign" and (flag.day, flag.metric, flag.direction, flag.entity_id) in child_keys:
            continue
        if flag.scope == "account" and flag.kind == "metric_shift" and (
            (flag.day, flag.metric, flag.direction) in campaign_keys
        ):
            continue
        if flag.kind == "metric_shift" and flag.metric in CONVERSION_METRICS and flag.day in outage_days:
            continue
        if flag.kind == "tracking_outage" and flag.scope == "campaign" and any(
            f.kind == "tracking_outage" and f.scope == "account" and f.day == flag.day for f in flags
        ):
            continue
        kept.append(flag)
    return kept


def _related(snapshot: Snapshot, flag: AnomalyFlag, entity_id: str | None) -> bool:
    """True if a change on `entity_id` (None: the account) moves the flagged scope's figures."""
    if entity_id is None or flag.scope == "account" or entity_id == flag.entity_id:
        return True
    changed = snapshot.entities.get(entity_id)
    flagged = snapshot.entities.get(flag.entity_id)
    return (changed is not None and changed.parent_id == flag.entity_id) or (
        flagged is not None and flagged.parent_id == entity_id)


def _explained(flag: AnomalyFlag, snapshot: Snapshot, settings: AnomalySettings) -> AnomalyFlag:
    """A metric shift that a known change accounts for (our own pause before a spend drop, a
    promotion a person annotated) is kept, as a warning naming the change: expected, not an alarm.
    Runaway spend and tracking outages are never explained away."""
    if flag.kind != "metric_shift":
        return flag
    for change in snapshot.known_changes:
        end = change.end or change.start + timedelta(days=settings.known_change_days)
        if not change.start <= flag.day <= end or not _related(snapshot, flag, change.entity_id):
            continue
        if flag.metric == "spend" and change.direction not in (None, flag.direction):
            continue
        return replace(flag, severity="warning", explained_by=change.description,
                       message=f"{flag.message}; expected: {change.description}")
    return flag


def tracking_outage_days(snapshot: Snapshot, settings: AnomalySettings, curve: LagCurve | None = None,
                         lookback_days: int = 28) -> set[date]:
    """Days of the last `lookback_days` on which the account's conversion tracking looks broken.

    Conversion-based policies drop these days: zero conversions on them are a measurement failure,
    not evidence. Each day is judged against a baseline that leaves out earlier outage days.
    """
    first_day = snapshot.today - timedelta(days=lookback_days)
    detector = _Detector(snapshot, settings, curve or lag_curve(snapshot),
                         first_day - timedelta(days=settings.baseline_days))
    account = _scopes(snapshot)[0]
    outages: set[date] = set()
    for offset in range(lookback_days, 0, -1):
        day = snapshot.today - timedelta(days=offset)
        outages |= detector.outage_days_ending(account, day, outages)
    return outages


def detect_anomalies(snapshot: Snapshot, settings: AnomalySettings, curve: LagCurve | None = None,
                     outage_days: set[date] | None = None) -> list[AnomalyFlag]:
    """Anomaly flags for the last `check_days` complete days, most severe first.

    `outage_days` (from `tracking_outage_days`) are left out of every baseline.
    """
    if not settings.enabled:
        return []
    days = [snapshot.today - timedelta(days=offset) for offset in range(settings.check_days, 0, -1)]
    detector = _Detector(snapshot, settings, curve or lag_curve(snapshot),
                         days[0] - timedelta(days=settings.baseline_days))
    skip = outage_days or set()
    flags = [flag for scope in _scopes(snapshot) for day in days for flag in detector.check(scope, day, skip)]
    flags = [_explained(flag, snapshot, settings) for flag in _deduplicate(flags, snapshot)]
    order = {"critical": 0, "warning": 1}
    return sorted(flags, key=lambda f: (order[f.severity], f.day, f.scope, f.entity_id, f.metric))


def _runaway_ad_sets(snapshot: Snapshot, flag: AnomalyFlag) -> list[Entity]:
    """The active ad sets to pause for a runaway flag: the ad set, or a campaign's ad sets that ran away."""
    if flag.scope == "ad_set":
        return [snapshot.entities[flag.entity_id]]
    children = [e for e in snapshot.entities.values() if e.parent_id == flag.entity_id and e.level == "ad_set"]
    culprits = []
    for child in children:
        history = [r for r in snapshot.rows(child.entity_id, flag.day - timedelta(days=28), flag.day - timedelta(days=1))
                   if r.level == "ad_set"]
        today_rows = [r for r in snapshot.rows(child.entity_id, flag.day, flag.day) if r.level == "ad_set"]
        baseline = robust_baseline([float(r.spend) for r in history])
        if baseline and today_rows and float(today_rows[0].spend) > 2.0 * max(baseline.median, 1e-9):
            culprits.append(child)
    return culprits


def propose_anomaly_actions(
    snapshot: Snapshot, settings: AnomalySettings, flags: list[AnomalyFlag] | None = None
) -> list[Proposal]:
    """Pause proposals for ad sets behind critical runaway spend (never protected or already paused)."""
    if not settings.enabled or not settings.pause_on_runaway:
        return []
    flags = detect_anomalies(snapshot, settings) if flags is None else flags
    proposals: dict[str, Proposal] = {}
    for flag in flags:
        if flag.kind != "runaway_spend" or flag.severity != "critical":
            continue
        for ad_set in _runaway_ad_sets(snapshot, flag):
            if not may_change(snapshot, ad_set.entity_id):
                continue
            proposals.setdefault(ad_set.entity_id, Proposal.about(
                snapshot.account_id, ad_set,
                kind="pause",
                policy=POLICY_NAME,
                change=PAUSE_CHANGE,
                rationale=f"Pause to stop the bleeding: {flag.message}. Re-enable once the cause is understood.",
                evidence={
                    "day": flag.day.isoformat(),
                    "scope": flag.scope,
                    "scope_id": flag.entity_id,
                    "spend": f"{flag.observed:.2f}",
                    "reference": f"{flag.expected:.2f}",
                    "robust_z": flag.robust_z,
                    "test": "spend above a multiple of the daily budget / robust weekday baseline",
                },
            ))
    return list(proposals.values())
