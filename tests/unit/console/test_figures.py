"""Recent days are marked incomplete and estimated with the account's lag curve; the baseline is the
28 days before the period, estimated the same way; blended totals need an exchange rate per currency."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from agent.config import AccountConfig, parse_config
from agent.console.figures import AccountData, Period, blend
from connectors.records import Entity, MetricRow
from policies.base import Snapshot
from policies.conversion_lag import LagCurve

TODAY = date(2026, 11, 23)


def _row(day: date, value: str) -> MetricRow:
    return MetricRow(platform="meta", account_id="a", level="ad_set", entity_id="s1", day=day, currency="EUR",
                     spend=Decimal(100), impressions=1000, clicks=50, conversions=10.0,
                     conversion_value=Decimal(value))


def _account() -> AccountData:
    ad_set = Entity(platform="meta", account_id="a", level="ad_set", entity_id="s1", parent_id="c1",
                    name="Serum", status="ACTIVE", currency="EUR")
    rows = [_row(TODAY - timedelta(days=n), "300") for n in range(1, 60)]
    snapshot = Snapshot(account_id="a", platform="meta", currency="EUR", timezone="Europe/Berlin", today=TODAY,
                        entities={"s1": ad_set}, daily={"s1": rows})
    # yesterday 50% reported, the day before 75%, older days complete
    curve = LagCurve(completeness=(0.3, 0.5, 0.75) + (1.0,) * 26, source="estimated")
    return AccountData(account=AccountConfig(id="a", platform="meta", currency="EUR"), snapshot=snapshot,
                       curve=curve, today=TODAY, entities={"s1": ad_set})


def test_recent_days_are_incomplete_and_estimated_beside_the_reported_figure() -> None:
    data = _account()
    period = Period(TODAY - timedelta(days=3), TODAY - timedelta(days=1))
    points = data.series(data.ad_sets(), period)
    assert [p.incomplete for p in points] == [False, True, True]
    assert [p.estimated_value for p in points] == [Decimal(300), Decimal(400), Decimal(600)]
    figures = data.figures("account", "a", "A", "", data.ad_sets(), period)
    assert figures.value == Decimal(900) and figures.estimated_value == Decimal(1300)
    assert figures.incomplete_days == 2
    assert figures.roas == 3.0 and round(figures.estimated_roas or 0, 3) == round(1300 / 300, 3)
    assert figures.baseline_roas == 3.0  # the 28 days before, all complete
    assert round(figures.vs_baseline or 0) == 44  # not "-33%" as the reported figure alone would say


def test_period_defaults_to_two_weeks_up_to_yesterday_and_never_reaches_today() -> None:
    yesterday = TODAY - timedelta(days=1)
    assert Period.parse(None, None, yesterday) == Period(yesterday - timedelta(days=13), yesterday)
    assert Period.parse("2026-11-01", "2026-12-31", yesterday) == Period(date(2026, 11, 1), yesterday)
    assert Period.parse("garbage", "", yesterday).end == yesterday


def test_blend_converts_only_with_a_rate_for_every_currency() -> None:
    data = _account()
    period = Period(TODAY - timedelta(days=3), TODAY - timedelta(days=3))
    eur = data.figures("account", "a", "A", "", data.ad_sets(), period)
    usd = data.figures("account", "b", "B", "", data.ad_sets(), period)
    usd.currency = "USD"
    base = {"database_url": "sqlite://", "accounts": [{"id": "a", "platform": "meta"}]}
    without = parse_config({**base, "reporting": {"currency": "EUR"}}, environ={})
    per_currency, overall, missing = blend([eur, usd], without)
    assert [b.currency for b in per_currency] == ["EUR", "USD"] and overall is None and missing == ["USD"]
    with_rate = parse_config({**base, "reporting": {"currency": "EUR", "fx_rates": {"USD": "0.5"}}}, environ={})
    _, overall, missing = blend([eur, usd], with_rate)
    assert missing == [] and overall is not None and overall.spend == Decimal(150)
