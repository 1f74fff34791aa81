"""Late conversions reach the store: after three weeks of daily cycles, what the agent holds for
every day of the attribution window is what the platform reports for it now.

Platforms attribute conversions to the click's day for up to 28 days. A cycle that re-read only
the last week froze older days at their one-week count, so the pause test saw every ad set's
ROAS short by its late conversions, and near-target winners were paused (the cycle's extra false
pauses in the backtest)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine

from agent.clock import local_today
from agent.config import AccountConfig
from agent.cycle.run import run_cycle
from agent.decisions.snapshots import load_snapshot
from connectors.records import MUTATION_KINDS, MetricRow
from policies.conversion_lag import lag_curve
from tests.integration.conftest import TODAY, SimWorld, make_world

DAYS = 21


def stored_and_reported(engine: Engine, world: SimWorld, account: AccountConfig) -> tuple[
        date, dict[tuple[str, date], MetricRow], dict[tuple[str, date], MetricRow]]:
    """The account's local today, and its ad sets' rows over the 28 days before it: as the agent
    stored them, and as the platform reports them now."""
    today = local_today(world.clock, account.timezone)
    snapshot = load_snapshot(engine, account, today, world.clock)
    first, last = today - timedelta(days=28), today - timedelta(days=1)
    reported = {(r.entity_id, r.day): r for r in world.simulator.daily_metrics(account.id, first, last)
                if r.level == "ad_set"}
    stored = {(r.entity_id, r.day): r for rows in snapshot.daily.values() for r in rows
              if r.level == "ad_set" and first <= r.day <= last}
    return today, stored, reported


def test_stored_conversions_catch_up_with_the_platform_over_the_attribution_window(
        engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url, defaults={"permissions": {kind: "observe" for kind in MUTATION_KINDS}})
    for day in range(DAYS):
        world.clock.current = datetime.combine(TODAY + timedelta(days=day), time(12), tzinfo=UTC)
        run_cycle(engine, world.config, world.connectors, world.clock)
    for account in world.config.accounts:
        today, stored, reported = stored_and_reported(engine, world, account)
        assert stored.keys() == reported.keys()
        late = [key for key, row in reported.items() if (today - key[1]).days > 7]
        assert sum(reported[key].conversions for key in late) > 0
        for key in late:
            assert stored[key].conversions == pytest.approx(reported[key].conversions), key
            assert stored[key].conversion_value == reported[key].conversion_value, key


def test_with_a_short_look_back_the_lag_curve_is_not_told_old_days_are_complete(
        engine: Engine, database_url: str) -> None:
    # A configured 7-day look-back leaves older days short; their stale totals must not be recorded
    # as later revisions, or the lag curve would read "no conversion comes after day 7".
    world = make_world(engine, database_url, lookback_days=7,
                       defaults={"permissions": {kind: "observe" for kind in MUTATION_KINDS}})
    for day in range(DAYS):
        world.clock.current = datetime.combine(TODAY + timedelta(days=day), time(12), tzinfo=UTC)
        run_cycle(engine, world.config, world.connectors, world.clock)
    account = world.config.accounts[0]
    snapshot = load_snapshot(engine, account, local_today(world.clock, account.timezone), world.clock)
    # days delivered during the run were re-read, and recorded, up to 7 days old only
    assert max(r.age_days for r in snapshot.conversion_revisions if r.day >= TODAY) == 7
    assert lag_curve(snapshot).at(10) < 1.0
