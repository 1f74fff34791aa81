"""Reach estimates over the wire: a pull asks only for pairs of ad sets that can reach the same
people; a later pull asks again only the estimates whose definition changed (here: the countries
their ad sets target) and those whose own refresh day has come, never all of them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from agent.clock import FixedClock, local_today
from agent.cycle import reach_plan
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

    # the next day the FR campaigns target AT instead: their estimates change definition and are asked
    # again; the DE ones are asked again only on their own refresh day within the max age
    with engine.connect() as connection:
        before = store.load_reach_estimate_records(connection, account)
    platforms.meta.markets = ("DE", "AT")
    clock.advance(timedelta(days=1))
    summary = run_cycle(engine, config, connectors, clock)
    assert summary.accounts_failed == 0, summary.errors
    asked = _reach_requests(platforms) - first
    with engine.connect() as connection:
        after = store.load_reach_estimate_records(connection, account)
    today = local_today(clock, config.account(account).timezone)
    renewed = {key for key, record in after.items() if record.estimated_on == today and key in before
               and record.estimated_on != before[key].estimated_on}
    moved = {key for key in before if any(country[a] == ("FR",) for a in key)}
    assert moved and moved <= renewed  # every estimate of a changed targeting, asked at once
    for key in renewed - moved:  # an unchanged one only when its refresh day has come
        definition = str(after[key].definition)
        assert reach_plan.refresh_period(definition, today, 28) \
            > reach_plan.refresh_period(definition, before[key].estimated_on, 28)
    assert len(renewed - moved) < len(before) - len(moved)  # not all of them
    assert asked == sum(1 for record in after.values() if record.estimated_on == today)
