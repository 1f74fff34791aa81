"""Reach estimates over the wire: a pull asks only for pairs of ad sets that can reach the same
people, and a later pull with nothing changed asks for none again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.cycle.run import run_cycle
from agent.storage import store
from tests.integration.test_real_connectors_e2e import TODAY, Platforms, agent_config, connectors_for
from tests.integration.test_real_connectors_e2e import platforms as platforms  # noqa: F401  (fixture)


def _reach_requests(platforms: Platforms) -> int:
    return sum(1 for kind, _path, _params in platforms.meta.log if kind == "get:reachestimate")


def test_unchanged_audiences_are_not_estimated_again_and_other_markets_never(engine: Engine, database_url: str,
                                                                              platforms: Platforms) -> None:
    platforms.meta.markets = ("DE", "FR")  # the account's campaigns alternate between two countries
    config = agent_config(database_url)
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = connectors_for(config, clock, platforms)

    summary = run_cycle(engine, config, connectors, clock)
    assert summary.accounts_failed == 0, summary.errors
    first = _reach_requests(platforms)
    assert first > 0
    account = next(a.id for a in config.accounts if a.platform == "meta")
    with engine.connect() as connection:
        entities = store.load_entities(connection, account).values()
        estimated = store.load_reach_estimates(connection, account)
    country = {str(a): tuple(e.attributes["countries"]) for e in entities if e.level == "ad_set"
               for a in e.attributes.get("audience_ids", ())}
    assert set(country.values()) == {("DE",), ("FR",)}
    pairs = [key for key in estimated if len(key) == 2]
    assert pairs and all(len({country[a] for a in key}) == 1 for key in pairs)  # never across markets

    clock.advance(timedelta(hours=1))  # an hour later: nothing about the audiences changed
    summary = run_cycle(engine, config, connectors, clock)
    assert summary.accounts_failed == 0, summary.errors
    assert _reach_requests(platforms) == first
