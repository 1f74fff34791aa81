"""The simulator's today so far: rows that grow through the local day, none for other days, and the
complete day (once it is over) at least as large as any partial reading of it."""

from __future__ import annotations

from datetime import date, timedelta

from agent.clock import FixedClock
from connectors.simulator.world import SimAccountSpec
from tests.fakes.platform_fixtures import make_simulator

DAY = date(2026, 11, 23)


def test_partial_rows_grow_through_the_day_and_stay_below_the_whole_day() -> None:
    clock = FixedClock.at_day(DAY, hour=6)
    simulator = make_simulator([SimAccountSpec("m", "meta", "Social", "EUR", "UTC", 1, 2, 1)], clock.now)
    morning = {r.entity_id: r for r in simulator.intraday_metrics("m", DAY)}
    clock.current += timedelta(hours=12)
    evening = {r.entity_id: r for r in simulator.intraday_metrics("m", DAY)}
    assert morning and set(morning) == set(evening)
    assert all(evening[k].spend >= morning[k].spend and evening[k].impressions >= morning[k].impressions
               for k in morning)
    assert sum(r.spend for r in evening.values()) > sum(r.spend for r in morning.values())
    assert list(simulator.intraday_metrics("m", DAY - timedelta(days=1))) == []  # not today: nothing
    clock.current += timedelta(days=1)
    whole = {r.entity_id: r for r in simulator.daily_metrics("m", DAY, DAY)}
    assert all(whole[k].spend >= evening[k].spend for k in evening)


def test_an_account_imitating_linkedin_has_no_partial_rows() -> None:
    clock = FixedClock.at_day(DAY, hour=18)
    simulator = make_simulator([SimAccountSpec("li", "linkedin", "B2B", "USD", "UTC", 1, 2, 1)], clock.now)
    assert list(simulator.intraday_metrics("li", DAY)) == []
