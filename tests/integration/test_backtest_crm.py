"""The B2B backtest's simulated CRM, fed into the outcome store day by day: only what was knowable."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine

from agent.backtesting.crm import CrmFeed
from agent.backtesting.cycle_arm import backtest_config
from agent.backtesting.objectives import backtest_objectives
from agent.outcomes.store import all_outcomes, attributed_stages_of
from connectors.simulator.b2b import B2B_SPECS
from connectors.simulator.world import build_world

START = datetime(2024, 1, 1).date()


def test_each_day_imports_the_stages_reached_by_its_noon_attributed_to_their_ad_sets(engine: Engine) -> None:
    world = build_world(3, B2B_SPECS, START)
    config = backtest_config(B2B_SPECS)
    feed = CrmFeed(world)
    day_10, day_30 = START + timedelta(days=10), START + timedelta(days=30)
    first = feed.feed(engine, config, [], day_10)
    assert first > 0
    assert feed.feed(engine, config, [], day_10) == 0  # nothing new on the same day
    with engine.connect() as connection:
        stored = all_outcomes(connection)
        assert max(row["stage_at"].replace(tzinfo=UTC) for row in stored) < datetime.combine(day_10, time(12), UTC)
        assert {row["stage"] for row in stored} >= {"lead", "mql"}
    later = feed.feed(engine, config, [], day_30)
    with engine.connect() as connection:
        stages = attributed_stages_of(connection, "b2b-linkedin-us", START, datetime.combine(day_30, time(12), UTC))
        assert len(all_outcomes(connection)) == first + later
    assert {row["stage"] for row in stages} >= {"lead", "sql", "opportunity"}
    assert all(row["ad_set_id"].startswith("b2b-linkedin-us-") for row in stages)


def test_backtest_objectives_use_the_worlds_targets_and_leave_lead_gen_off_roas() -> None:
    cpa = backtest_objectives("b2b", "platform_cpa", None)
    assert cpa is not None and cpa["b2b-google-us"].target == 120
    roas = backtest_objectives("b2b", "platform_roas", None)
    assert roas is not None and sorted(roas) == ["b2b-google-us", "b2b-meta-us"]
    assert backtest_objectives("b2b", None, None) is None
    with pytest.raises(ValueError, match="--objective cpql needs --target in the demo world"):
        backtest_objectives("demo", "cpql", None)
