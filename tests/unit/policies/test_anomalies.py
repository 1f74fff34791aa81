"""Anomaly flags: quiet on normal and seasonal days; runaway spend, CTR shifts and tracking outages."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from policies import evaluate
from policies.anomalies import detect_anomalies, propose_anomaly_actions
from policies.conversion_lag import LagCurve
from policies.settings import AnomalySettings, PolicySettings
from tests.unit.policies.builders import NO_LAG, TODAY, entity, rows, snapshot

YESTERDAY = TODAY - timedelta(days=1)


def _wiggle(day: date, spread: int) -> int:
    return (day.toordinal() * 7919) % spread  # deterministic day-to-day noise


def _spend(day: date) -> float:
    return 90.0 + _wiggle(day, 11)


def _clicks(day: date) -> float:
    return 200.0 + _wiggle(day, 21)


def _conversions(day: date) -> float:
    return 10.0 + _wiggle(day, 5)


def _account(yesterday: dict[str, float] | None = None, weekend_light: bool = False, today: date = TODAY,
             conversion_rate: float | None = None):
    """Two ad sets with 40 days of ordinary delivery; A's last day can be overridden."""
    end = today - timedelta(days=1)

    def conversions(day: date) -> float:
        return _conversions(day) if conversion_rate is None else round(conversion_rate * _clicks(day))

    def spend(day: date) -> float:
        return _spend(day) * (0.5 if weekend_light and day.weekday() >= 5 else 1.0)

    def metric(name: str, default):
        def value(day: date) -> float:
            if yesterday and day == end and name in yesterday:
                return yesterday[name]
            return default(day)
        return value

    a = rows("A", 40, spend=metric("spend", spend), clicks=metric("clicks", _clicks), impressions=10_000,
             conversions=metric("conversions", conversions),
             value=metric("value", lambda d: 50 * conversions(d)), end=end)
    b = rows("B", 40, spend=spend, clicks=_clicks, impressions=10_000, conversions=conversions,
             value=lambda d: 50 * conversions(d), end=end)
    return snapshot([entity("c1", level="campaign", parent=None), entity("A", budget="100"), entity("B", budget="100")],
                    a + b, today=today)


def test_an_ordinary_day_raises_no_flag() -> None:
    assert detect_anomalies(_account(), AnomalySettings(), curve=NO_LAG) == []


def test_a_light_weekend_is_seasonality_not_an_anomaly() -> None:
    sunday = date(2024, 6, 23)  # yesterday was a Saturday at half the weekday spend
    account = _account(weekend_light=True, today=sunday)
    assert [f for f in detect_anomalies(account, AnomalySettings(), curve=NO_LAG) if f.metric == "spend"] == []


def test_runaway_spend_is_critical_and_the_ad_set_is_paused() -> None:
    account = _account({"spend": 300.0})
    flags = detect_anomalies(account, AnomalySettings(), curve=NO_LAG)
    runaway = [f for f in flags if f.kind == "runaway_spend"]
    assert [(f.entity_id, f.severity) for f in runaway] == [("A", "critical")]
    assert "3.0x its daily budget" in runaway[0].message
    # Neither the campaign nor the account repeats what the ad set explains.
    assert not [f for f in flags if f.scope != "ad_set" and f.metric == "spend"]
    (proposal,) = propose_anomaly_actions(account, AnomalySettings(), flags)
    assert (proposal.kind, proposal.entity_id) == ("pause", "A")
    assert proposal.change["to"] == {"status": "PAUSED"}


def test_a_ctr_collapse_is_flagged_on_the_ad_set_only() -> None:
    flags = detect_anomalies(_account({"clicks": 80.0}), AnomalySettings(), curve=NO_LAG)
    ctr = [f for f in flags if f.metric == "ctr"]
    assert [(f.scope, f.entity_id, f.direction) for f in ctr] == [("ad_set", "A", "down")]
    assert ctr[0].observed == 0.008 and ctr[0].robust_z < -4


def test_tracking_outage_is_one_account_flag_and_silences_conversion_policies() -> None:
    account = _account({"conversions": 0.0, "value": 0.0})
    outage_b = rows("B", 1, spend=_spend(YESTERDAY), clicks=_clicks(YESTERDAY), impressions=10_000,
                    conversions=0, value=0)
    daily = dict(account.daily)
    daily["B"] = [*daily["B"][:-1], *outage_b]
    account = snapshot(account.entities.values(), [r for rs in daily.values() for r in rs])
    flags = detect_anomalies(account, AnomalySettings(), curve=NO_LAG)
    assert [(f.kind, f.scope) for f in flags] == [("tracking_outage", "account")]
    assert "tracking outage" in flags[0].message
    proposals = evaluate(account, PolicySettings())
    assert not [p for p in proposals if p.policy in ("underperformers", "reallocation")]


def test_young_days_are_completed_with_the_lag_curve_before_comparison() -> None:
    # Every day reports conversions as the account's curve says (half of them at age 1): once
    # completed nothing is anomalous; taken at face value yesterday looks like a conversion collapse.
    curve = LagCurve((0.3, 0.5) + (1.0,) * 27, "test: half a day late")

    def reported(day: date) -> float:
        return round(0.4 * _clicks(day) * curve.for_day(day, TODAY), 1)

    data = [r for name in ("A", "B") for r in rows(name, 40, spend=_spend, clicks=_clicks, impressions=10_000,
                                                    conversions=reported, value=lambda d: 50 * reported(d))]
    account = snapshot([entity("A", budget="100"), entity("B", budget="100")], data)
    assert [f.metric for f in detect_anomalies(account, AnomalySettings(), curve=NO_LAG)] == ["conversion_rate"] * 2
    assert detect_anomalies(account, AnomalySettings(), curve=curve) == []


def test_small_scopes_are_not_checked() -> None:
    quiet = AnomalySettings(min_daily_spend=Decimal("1000"))
    assert detect_anomalies(_account({"clicks": 80.0}), quiet, curve=NO_LAG) == []


def test_a_surge_in_roas_is_worth_a_look_but_never_critical() -> None:
    flags = detect_anomalies(_account({"conversions": 60.0, "value": 9000.0}), AnomalySettings(), curve=NO_LAG)
    roas = [f for f in flags if f.metric == "roas" and f.entity_id == "A"]
    assert roas and all(f.direction == "up" and f.severity == "warning" for f in roas)
    assert roas[0].robust_z >= AnomalySettings().critical_z  # as far out as a critical drop would be
