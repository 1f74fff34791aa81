"""Pause ad sets whose true return on ad spend is, with high probability, below target.

A trailing-window ROAS is a noisy, lag-biased estimate: a few conversions more or less swing it, and
the last days are missing conversions that will still be attributed. So the decision is Bayesian
(see `roas_evidence`): conversions are Poisson on lag-discounted spend, value per conversion is
log-normal, both are shrunk towards the account, and an ad set is paused only when the posterior
P(true ROAS < target) reaches `confidence`. Protected, learning, paused, young and small ad sets
are never judged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from policies.base import PAUSE_CHANGE, Proposal, Snapshot
from policies.conversion_lag import LagCurve, lag_curve
from policies.money import money_str
from policies.protection import may_change
from policies.roas_evidence import (
    RoasPosterior,
    WindowEvidence,
    ad_set_ids,
    collect_window,
    estimate_dispersion,
    estimate_value_cv,
    estimate_value_prior_weight,
    roas_posterior,
    window_bounds,
)
from policies.settings import UnderperformersSettings

POLICY_NAME = "underperformers"


def _is_candidate(snapshot: Snapshot, entity_id: str) -> bool:
    entity = snapshot.entities[entity_id]
    if entity.level != "ad_set" or entity.status != "ACTIVE" or entity.learning:
        return False
    return may_change(snapshot, entity_id)


def _learning_end(snapshot: Snapshot, entity_id: str, learning_days: int, history_start: date) -> date:
    """First day after the ad set's launch learning phase, from its `created` attribute (a date or ISO
    string), else its first delivery if that is inside the history we hold.

    Platforms deliver worse while they learn a new ad set, so those days would bias the verdict.
    """
    created = snapshot.entities[entity_id].attributes.get("created")
    if created:
        launched = created if isinstance(created, date) else date.fromisoformat(str(created)[:10])
        return launched + timedelta(days=learning_days)
    first = next((r.day for r in snapshot.daily.get(entity_id, ()) if r.level == "ad_set" and r.spend > 0), None)
    if first is None or first <= history_start:
        return history_start  # it launched before the history we hold: long out of learning
    return first + timedelta(days=learning_days)


def _halves(snapshot: Snapshot, entity_id: str, start: date, end: date, curve: LagCurve, learning_end: date,
            settings: UnderperformersSettings) -> list[WindowEvidence]:
    """The window's older and newer halves by delivery day (each judged on its own)."""
    days = sorted({r.day for r in snapshot.rows(entity_id, start, end) if r.level == "ad_set" and r.spend > 0})
    middle = days[len(days) // 2]
    return [collect_window(snapshot, [entity_id], start, middle - timedelta(days=1), curve, learning_end,
                           settings.learning_efficiency),
            collect_window(snapshot, [entity_id], middle, end, curve, learning_end, settings.learning_efficiency)]


@dataclass(frozen=True)
class _AccountEvidence:
    """What every ad set's test shares: the window, the lag curve, the account it is shrunk towards and
    the account-wide noise estimates (read once per snapshot)."""

    settings: UnderperformersSettings
    curve: LagCurve
    start: date
    end: date
    account: WindowEvidence
    value_cv: float
    dispersion: float
    value_weight: float | None  # the empirical value prior's weight; None: `prior_conversions`
    history_start: date
    watched_since: date | None  # the agent's first pull of the account, as far back as the snapshot reads

    def days_watched(self, learning_end: date) -> int | None:
        """Days the agent has tested an ad set since its learning ended (None: no pull on record)."""
        if self.watched_since is None:
            return None
        return (self.end - max(learning_end, self.watched_since)).days + 1

    def posterior(self, window: WindowEvidence) -> RoasPosterior:
        return roas_posterior(window, self.account, self.settings.prior_conversions, self.value_cv,
                              self.dispersion, self.value_weight)


def _account_evidence(snapshot: Snapshot, settings: UnderperformersSettings, curve: LagCurve | None) -> _AccountEvidence:
    curve = curve or lag_curve(snapshot)
    start, end = window_bounds(snapshot.today, settings.window_days)
    account = collect_window(snapshot, ad_set_ids(snapshot), start, end, curve)
    value_cv = settings.value_cv or estimate_value_cv(snapshot, start, end)
    value_weight = estimate_value_prior_weight(
        snapshot, start, end, value_cv, (settings.prior_conversions, settings.max_value_prior_conversions),
    ) if settings.empirical_value_prior else None
    history_start = min((rows[0].day for rows in snapshot.daily.values() if rows), default=start)
    watched_since = min((r.day + timedelta(days=r.age_days) for r in snapshot.conversion_revisions), default=None)
    return _AccountEvidence(settings, curve, start, end, account, value_cv,
                            estimate_dispersion(snapshot, start, end, curve), value_weight, history_start,
                            watched_since)


def pause_bar(settings: UnderperformersSettings, post_learning_days: int, days_watched: int | None) -> float:
    """The posterior P(ROAS < target) an ad set must reach to be paused.

    `confidence` while it is young; `settled_confidence` once it has more than `settled_after_days`
    delivery days after learning in the window; and from there, with `settled_tightening`, a bar that
    keeps rising with the days the agent has watched it after learning (`days_watched`): every daily
    re-test is one more chance for a winner to dip below target by luck, and what is still running
    after weeks of tests is mostly near target. Days before the agent's first pull are not counted, so
    a newly connected account's old ad sets face the settled bar, not a month's tightening; nor, with
    no pull on record (`days_watched` None), does any ad set.
    """
    if settings.settled_confidence is None or post_learning_days <= settings.settled_after_days:
        return settings.confidence
    if days_watched is None:
        return settings.settled_confidence
    looks = max(settings.settled_after_days, 1) / max(days_watched, 1)
    if not settings.settled_tightening or looks >= 1:
        return settings.settled_confidence
    return 1 - (1 - settings.settled_confidence) * looks ** settings.settled_tightening


def _percent(share: float) -> str:
    """A probability as a percentage, with a second decimal where one would read 100.0%."""
    return f"{share:.2%}" if 0.9995 <= share < 1 else f"{share:.1%}"


def _watched_note(settings: UnderperformersSettings, bar: float, days_watched: int | None) -> str:
    tightened = settings.settled_confidence is not None and bar > settings.settled_confidence
    return f", raised for {days_watched} days of daily tests after learning" if tightened else ""


def _margin_note(settings: UnderperformersSettings) -> str:
    margin = settings.indifference_margin
    return f", the {settings.target_roas:.2f} target less a {margin:.0%} margin" if margin else ""


def propose_pauses(
    snapshot: Snapshot, settings: UnderperformersSettings, curve: LagCurve | None = None
) -> list[Proposal]:
    """Proposals to pause the account's ad sets whose true ROAS is probably below target.

    `curve` overrides the lag curve estimated from `snapshot.conversion_revisions` (tests, backtests).
    """
    if not settings.enabled:
        return []
    shared = _account_evidence(snapshot, settings, curve)
    curve, start, end, account = shared.curve, shared.start, shared.end, shared.account
    value_cv, dispersion, history_start = shared.value_cv, shared.dispersion, shared.history_start
    if account.conversions <= 0:
        # No conversion anywhere in the account is a tracking problem, not evidence against ad sets.
        return []
    currency = snapshot.currency
    proposals: list[Proposal] = []
    for entity_id in sorted(snapshot.entities):
        if not _is_candidate(snapshot, entity_id):
            continue
        entity = snapshot.entities[entity_id]
        live_days = sum(1 for row in snapshot.daily.get(entity_id, ()) if row.level == "ad_set" and row.spend > 0)
        if live_days < settings.min_days_live:
            continue
        learning_end = _learning_end(snapshot, entity_id, settings.learning_days, history_start)
        post_learning_days = sum(1 for row in snapshot.rows(entity_id, max(start, learning_end), end)
                                 if row.level == "ad_set" and row.spend > 0)
        if post_learning_days < settings.min_evidence_days:
            continue
        window = collect_window(snapshot, [entity_id], start, end, curve, learning_end, settings.learning_efficiency)
        if window.spend <= 0 or window.spend < settings.min_spend:
            continue
        posterior = shared.posterior(window)
        threshold = settings.target_roas * (1 - settings.indifference_margin)
        p_below = posterior.probability_below(threshold)
        days_watched = shared.days_watched(learning_end)
        bar = pause_bar(settings, post_learning_days, days_watched)
        if p_below < bar:
            continue
        halves = _halves(snapshot, entity_id, start, end, curve, learning_end, settings)
        p_halves = [shared.posterior(half).probability_below(threshold) for half in halves]
        if settings.consistency_confidence is not None and min(p_halves) < settings.consistency_confidence:
            continue  # one bad stretch, not a pattern: daily re-tests would otherwise catch every dip
        observed = window.observed_roas or 0.0
        low, high = posterior.quantiles(0.05, 0.95)
        proposals.append(
            Proposal.about(
                snapshot.account_id, entity,
                kind="pause",
                policy=POLICY_NAME,
                change=PAUSE_CHANGE,
                rationale=(
                    f"P(true ROAS < {threshold:.2f}{_margin_note(settings)}) = {_percent(p_below)} (threshold "
                    f"{_percent(bar)}{_watched_note(settings, bar, days_watched)}) over "
                    f"{window.first_day or start}..{end}: {money_str(window.spend, currency)} "
                    f"{currency} spent for {money_str(window.conversion_value, currency)} {currency} of value "
                    f"(observed ROAS {observed:.2f}; {window.conversions:g} conversions so far, about "
                    f"{window.expected_final_conversions:.1f} once late conversions arrive). Posterior ROAS "
                    f"{posterior.mean:.2f}, 90% interval {low:.2f}-{high:.2f}; "
                    f"P(ROAS < target) in the window's older and newer halves {p_halves[0]:.0%} and "
                    f"{p_halves[1]:.0%}."
                ),
                evidence={
                    "window": [(window.first_day or start).isoformat(), end.isoformat()],
                    "learning_end": learning_end.isoformat(),
                    "learning_efficiency": settings.learning_efficiency,
                    "spend": money_str(window.spend, currency),
                    "conversion_value": money_str(window.conversion_value, currency),
                    "conversions": round(window.conversions, 3),
                    "expected_final_conversions": round(window.expected_final_conversions, 3),
                    "clicks": window.clicks,
                    "impressions": window.impressions,
                    "days_live": live_days,
                    "observed_roas": round(observed, 4),
                    "lag_corrected_roas": round(window.lag_corrected_roas or 0.0, 4),
                    "target_roas": settings.target_roas,
                    "indifference_margin": settings.indifference_margin,
                    "tested_roas": round(threshold, 4),
                    "posterior_mean_roas": round(posterior.mean, 4),
                    "posterior_interval_90": [round(low, 4), round(high, 4)],
                    "p_roas_below_target": round(p_below, 4),
                    "p_roas_below_target_by_half": [round(p, 4) for p in p_halves],
                    "confidence": round(bar, 6),
                    "days_watched_after_learning": days_watched,
                    "value_cv": round(value_cv, 3),
                    "value_prior_conversions": round(shared.value_weight or settings.prior_conversions, 2),
                    "count_dispersion": round(dispersion, 3),
                    "conversion_lag": {**curve.as_evidence(), "window_completeness": round(window.completeness, 3)},
                    "test": "Gamma-Poisson rate x log-normal value per conversion, lag-discounted exposure; "
                    "posterior P(ROAS < target) by Gauss-Hermite quadrature",
                },
            )
        )
    return proposals


def level_test(snapshot: Snapshot, settings: UnderperformersSettings,
               curve: LagCurve | None = None) -> Callable[[str, date, date], tuple[float, int]]:
    """The pause test over any stretch of days: (posterior P(ROAS < target), delivery days after
    learning) for one ad set over `first..last` (the remedy ladder asks it about each budget level)."""
    shared = _account_evidence(snapshot, settings, curve)

    def test(entity_id: str, first: date, last: date) -> tuple[float, int]:
        learning_end = _learning_end(snapshot, entity_id, settings.learning_days, shared.history_start)
        days = sum(1 for row in snapshot.rows(entity_id, max(first, learning_end), last)
                   if row.level == "ad_set" and row.spend > 0)
        window = collect_window(snapshot, [entity_id], first, last, shared.curve, learning_end,
                                settings.learning_efficiency)
        if window.spend <= 0:
            return 0.0, 0
        return shared.posterior(window).probability_below(settings.target_roas), days

    return test
