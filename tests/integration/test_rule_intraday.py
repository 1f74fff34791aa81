"""Intraday rules in the simulated world: a rule on `today` makes the pull read today's partial rows
(kept apart from the complete days), fires on them, and its pause executes the same day; without such a
rule nothing is read intraday, and the next day's pull leaves only complete days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from agent.cycle.run import run_cycle
from agent.storage.models import Action, DailyMetric, IntradayMetric
from policies import POLICY_NAMES
from tests.integration.conftest import make_world

NO_POLICIES = {name: {"enabled": False} for name in POLICY_NAMES}
SPENDING_TODAY: dict[str, Any] = {
    "name": "stop-today", "scope": {"accounts": ["shop-meta"]},
    "when": {"metric": "spend", "window": "today", "op": ">", "value": 1},
    "then": [{"kind": "pause"}], "max_per_period": {"count": 1, "period": "day"},
}


def settings(rule: dict[str, Any]) -> dict[str, Any]:
    return {"defaults": {"policies": NO_POLICIES, "permissions": {"pause": "auto"}}, "rules": [rule]}


def test_a_today_rule_reads_partial_rows_and_pauses_the_same_day(database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url, **settings(SPENDING_TODAY))
    today = world.clock.now().date()  # noon in Berlin and New York alike: the same local day
    run_cycle(engine, world.config, world.connectors, world.clock)
    with engine.connect() as connection:
        partial = list(connection.execute(select(IntradayMetric.__table__)))
        complete_today = connection.execute(select(func.count()).select_from(DailyMetric)
                                            .where(DailyMetric.day == today)).scalar_one()
        pauses = list(connection.execute(select(Action.__table__).where(Action.policy == "rule:stop-today")))
    assert partial and {(r.account_id, r.day) for r in partial} == {("shop-meta", today)}  # only where a rule reads it
    assert complete_today == 0  # the complete days hold no partial day
    assert pauses and {(p.kind, p.state) for p in pauses} == {("pause", "executed")}
    full_day = {m.entity_id: m for m in world.simulator.daily_metrics("shop-meta", today, today)}
    assert not full_day  # the simulator reports today only as partial rows
    condition = pauses[0].evidence["conditions"][0]
    assert condition["value"] > 1  # today's spend so far
    mutations = [m for m in world.simulator.mutation_log() if m["kind"] == "pause"]
    assert {m["effective_day"] for m in mutations} == {today}  # acts today, not tomorrow

    world.clock.current += timedelta(days=1)
    run_cycle(engine, world.config, world.connectors, world.clock)
    with engine.connect() as connection:
        days = {r.day for r in connection.execute(select(IntradayMetric.day))}
        restated = connection.execute(select(func.count()).select_from(DailyMetric)
                                      .where(DailyMetric.day == today)).scalar_one()
    assert today not in days and restated > 0  # yesterday's partial rows gave way to its complete ones


def test_no_rule_on_today_reads_nothing_intraday(database_url: str, engine: Engine) -> None:
    world = make_world(engine, database_url, **settings({**SPENDING_TODAY, "when": {
        "metric": "spend", "window": "yesterday", "op": ">", "value": 1}}))
    run_cycle(engine, world.config, world.connectors, world.clock)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(IntradayMetric)).scalar_one() == 0
