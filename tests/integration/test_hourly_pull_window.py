"""An hourly schedule re-reads the whole look-back window once per local day, and only its recent days
on the day's later cycles.

A day weeks old gains a few late conversions a day; re-reading 28 days of metrics, breakdowns and
search terms every hour found next to nothing new and was most of a steady cycle's requests and CPU
(docs/performance.md, eighth round). Which days a cycle re-read shows in the rows' `pulled_at`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from agent.clock import local_today
from agent.cycle.account_pull import pull_window
from agent.cycle.run import run_cycle
from agent.storage.models import DailyMetric
from connectors.records import MUTATION_KINDS
from tests.integration.conftest import TODAY, SimWorld, make_world
from tests.integration.test_late_conversions import stored_and_reported

OBSERVE = {"permissions": {kind: "observe" for kind in MUTATION_KINDS}}


def _pulled_at_by_day(engine: Engine, account_id: str) -> dict[date, datetime]:
    """The newest `pulled_at` of each stored day (UTC)."""
    with engine.connect() as connection:
        rows = connection.execute(select(DailyMetric.day, DailyMetric.pulled_at)
                                  .where(DailyMetric.account_id == account_id)).all()
    newest: dict[date, datetime] = {}
    for day, pulled_at in rows:
        stamp = pulled_at if pulled_at.tzinfo else pulled_at.replace(tzinfo=UTC)
        newest[day] = max(stamp, newest.get(day, stamp))
    return newest


def _cycle_at(world: SimWorld, engine: Engine, at: datetime) -> datetime:
    world.clock.current = at
    run_cycle(engine, world.config, world.connectors, world.clock)
    return at


def test_later_cycles_of_a_local_day_reread_only_the_recent_days(engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, defaults=OBSERVE)
    account = world.config.account("shop-meta")  # Europe/Berlin
    first = _cycle_at(world, engine, datetime.combine(TODAY, time(8), tzinfo=UTC))
    second = _cycle_at(world, engine, first + timedelta(hours=1))
    today = local_today(world.clock, account.timezone)
    pulled = _pulled_at_by_day(engine, account.id)
    recent = {today - timedelta(days=d) for d in range(1, world.config.lookback_recent_days + 1)}
    window = {today - timedelta(days=d) for d in range(1, world.config.lookback_days + 1)}
    assert {day for day, at in pulled.items() if at == second} == recent
    assert all(pulled[day] == first for day in window - recent)

    # the first cycle of the next local day re-reads the whole window again
    next_day = datetime.combine(today + timedelta(days=1), time(0, 30), tzinfo=ZoneInfo(account.timezone))
    third = _cycle_at(world, engine, next_day.astimezone(UTC))
    today = local_today(world.clock, account.timezone)
    pulled = _pulled_at_by_day(engine, account.id)
    window = {today - timedelta(days=d) for d in range(1, world.config.lookback_days + 1)}
    assert window <= pulled.keys()
    assert all(pulled[day] == third for day in window)


def test_the_local_day_decides_not_the_utc_day(engine: Engine, database_url: str) -> None:
    # 22:30 and 23:30 UTC on one UTC day are two local days in Berlin (23:30 and 00:30): the second
    # cycle is the account's first of its day and re-reads the whole window
    world = make_world(engine, database_url, defaults=OBSERVE)
    account = world.config.account("shop-meta")
    _cycle_at(world, engine, datetime.combine(TODAY, time(22, 30), tzinfo=UTC))
    second = _cycle_at(world, engine, datetime.combine(TODAY, time(23, 30), tzinfo=UTC))
    today = local_today(world.clock, account.timezone)
    assert today == TODAY + timedelta(days=1)
    pulled = _pulled_at_by_day(engine, account.id)
    assert all(pulled[today - timedelta(days=d)] == second for d in range(1, world.config.lookback_days + 1))


def test_a_recent_window_as_long_as_the_look_back_rereads_everything_every_cycle(
        engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, defaults=OBSERVE, lookback_days=10, lookback_recent_days=10)
    first = _cycle_at(world, engine, datetime.combine(TODAY, time(8), tzinfo=UTC))
    second = _cycle_at(world, engine, first + timedelta(hours=1))
    for account in world.config.accounts:
        today = local_today(world.clock, account.timezone)
        pulled = _pulled_at_by_day(engine, account.id)
        assert all(pulled[today - timedelta(days=d)] == second for d in range(1, 11))


def test_cycles_every_six_hours_still_hold_every_late_conversion(engine: Engine, database_url: str) -> None:
    # the simulator restates a day by the local day, as platforms do by the hour: after five days of
    # cycles every six hours, the last of them a later cycle of its local day, what the agent holds
    # for each day of the attribution window is what the platform reports for it
    world = make_world(engine, database_url, defaults=OBSERVE)
    start = datetime.combine(TODAY, time(1), tzinfo=UTC)
    for step in range(5 * 4):
        _cycle_at(world, engine, start + timedelta(hours=6 * step))
    for account in world.config.accounts:
        _today, stored, reported = stored_and_reported(engine, world, account)
        assert stored.keys() == reported.keys()
        for key, row in reported.items():
            assert stored[key].conversions == pytest.approx(row.conversions), key


def test_pull_window_with_recent_days() -> None:
    today = date(2026, 11, 23)
    assert pull_window(None, today, 28, 30, 3) == (today - timedelta(days=30), today - timedelta(days=1))
    assert pull_window(today - timedelta(days=1), today, 28, 30) == (today - timedelta(days=28), today - timedelta(days=1))
    assert pull_window(today - timedelta(days=1), today, 28, 30, 3) == (today - timedelta(days=3), today - timedelta(days=1))
    # days missing are pulled whatever the window
    assert pull_window(today - timedelta(days=9), today, 28, 30, 3) == (today - timedelta(days=8), today - timedelta(days=1))
