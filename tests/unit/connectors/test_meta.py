"""The Meta connector, through the real facebook-business SDK, against the local fake Graph API."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.errors import PlatformAuthError
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.meta.conversions import Conversions
from connectors.meta.records import metric_row, minor_to_money, money_to_minor
from connectors.records import Mutation
from connectors.registry import ConnectorContext
from connectors.request_limits import RequestLimiter, limiting_requests
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 16), date(2026, 11, 22)
ACCESS_TOKEN = "EAAB-secret-access-token-789"
APP_SECRET = "app-secret-000"


@dataclass
class Rig:
    fake: FakeMeta
    simulator: SimulatorConnector
    sleeps: list[float]

    def connector(self, **options: Any) -> MetaConnector:
        credentials = {"access_token": ACCESS_TOKEN, "app_id": "1234", "app_secret": APP_SECRET}
        accounts = [{"id": "shop-de", "credentials": {**credentials, "ad_account_id": "act_555"}},
                    {"id": "shop-jp", "credentials": {**credentials, "ad_account_id": "556"}}]
        context = ConnectorContext(
            platform="meta", accounts=accounts, settings={}, database_url="sqlite://",
            now=FixedClock.at_day(TODAY, hour=12).now,
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=self.sleeps.append, rng=random.Random(1)), tuning=(replace(
                MetaOptions(graph_url=self.fake.url, poll_interval=2.0, timeout=5.0), **options),)))
        return MetaConnector.from_context(context)


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    specs = [SimAccountSpec("m-de", "meta", "Social DE", "EUR", "Europe/Berlin", 2, 2, 2),
             SimAccountSpec("m-jp", "meta", "Social JP", "JPY", "Asia/Tokyo", 2, 2, 2)]
    simulator = make_simulator(specs, clock.now)
    with FakeMeta(SimBackend(simulator, {"act_555": "m-de", "act_556": "m-jp"}), access_token=ACCESS_TOKEN) as fake:
        yield Rig(fake, simulator, [])


def _ids(connector: MetaConnector, account: str, level: str) -> list[str]:
    return [e.entity_id for e in connector.entities(account) if e.level == level]


# -- units at the edge ------------------------------------------------------------------------

def test_minor_units_and_insight_strings_convert_exactly() -> None:
    assert minor_to_money("5000", "EUR") == Decimal("50.00")
    assert minor_to_money("5000", "JPY") == Decimal("5000")
    assert money_to_minor(Decimal("42.50"), "EUR") == 4250
    with pytest.raises(ValueError, match="JPY"):
        money_to_minor(Decimal("42.5"), "JPY")
    row = metric_row({"adset_id": "9", "date_start": "2026-11-20", "spend": "1234", "impressions": "5000",
                      "clicks": "40", "reach": "4100",
                      "actions": [{"action_type": "link_click", "value": "40"}, {"action_type": "purchase", "value": "3"}],
                      "action_values": [{"action_type": "purchase", "value": "45678"}]},
                     "shop-jp", "JPY", "ad_set", Conversions())
    assert (row.spend, row.conversions, row.conversion_value, row.reach, row.clicks) == (
        Decimal("1234"), 3.0, Decimal("45678"), 4100, 40)


# -- reads ------------------------------------------------------------------------------------

def test_reads_match_the_simulated_world_with_one_request_per_report(rig: Rig) -> None:
    connector = rig.connector()
    info = {a.account_id: a for a in connector.accounts()}
    assert (info["shop-jp"].currency, info["shop-jp"].timezone) == ("JPY", "Asia/Tokyo")
    entities = connector.entities("shop-de")
    ad = next(e for e in entities if e.level == "ad")
    assert ad.attributes["headline"] and ad.parent_id in {e.entity_id for e in entities if e.level == "ad_set"}
    rig.fake.traffic.reset()
    rows = list(connector.daily_metrics("shop-de", START, END))
    truth = list(rig.simulator.daily_metrics("m-de", START, END))
    assert len(rows) == len(truth)
    assert sum(r.spend for r in rows) == sum(m.spend for m in truth)
    assert sum(r.conversion_value for r in rows) == sum(m.conversion_value for m in truth)
    assert rig.fake.traffic.counts == {"get:insights": 2}  # one per level: adset, ad


def test_paging_follows_the_after_cursor(rig: Rig) -> None:
    connector = rig.connector(page_size=7)
    connector.accounts()
    rig.fake.traffic.reset()
    rows = list(connector.daily_metrics("shop-de", START, END))
    ad_sets = sum(1 for r in rows if r.level == "ad_set")
    ads = len(rows) - ad_sets
    assert rig.fake.traffic.counts["get:insights"] == math.ceil(ad_sets / 7) + math.ceil(ads / 7)
    assert len({(r.entity_id, r.day) for r in rows}) == len(rows)


def test_every_slot_a_paged_read_takes_is_a_request_sent(rig: Rig) -> None:
    # Each slot counts against the platform's quotas; the last page of a paged edge used to take one
    # more for the SDK's "is there a next page?", which sends nothing.
    connector = rig.connector(page_size=7)
    connector.accounts()
    rig.fake.traffic.reset()
    limiter = RequestLimiter(lambda _p: 4, per_second={"meta": 1000})
    with limiting_requests(limiter):
        entities = connector.entities("shop-de")
        rows = list(connector.daily_metrics("shop-de", START, END))
    assert entities and rows
    sent = sum(rig.fake.traffic.counts.values())
    assert rig.fake.traffic.counts["get:insights"] >= 3  # paged: more than one page per level
    assert limiter.slots_taken("meta") == sent


def test_large_accounts_use_an_async_report_run(rig: Rig) -> None:
    sync = sorted(rig.connector().daily_metrics("shop-de", START, END), key=repr)
    rig.fake.polls_until_done = 3
    connector = rig.connector(async_rows=0)
    connector.entities("shop-de")
    rig.fake.traffic.reset()
    assert sorted(connector.daily_metrics("shop-de", START, END), key=repr) == sync
    assert rig.fake.traffic.counts == {"post:insights": 2, "get:report": 6, "get:report_result": 2}
    assert rig.sleeps == [2.0, 2.0] * 2  # two waits between three polls, per level


def test_too_much_data_falls_back_to_the_async_report(rig: Rig) -> None:
    sync = sorted(rig.connector().daily_metrics("shop-de", START, END), key=repr)
    rig.fake.sync_row_limit = 10
    rig.fake.polls_until_done = 1
    rig.fake.traffic.reset()
    assert sorted(rig.connector().daily_metrics("shop-de", START, END), key=repr) == sync
    assert rig.fake.traffic.counts["post:insights"] == 2 and rig.fake.traffic.counts["get:insights"] == 2


def test_reach_estimates_come_from_reachestimate(rig: Rig) -> None:
    connector = rig.connector()
    audiences = connector.audiences("shop-de")
    first, second = audiences[0].audience_id, audiences[1].audience_id
    union = connector.estimate_reach("shop-de", [first, second])
    sizes = {a.audience_id: a.estimated_size for a in audiences}
    assert max(sizes[first], sizes[second]) <= union <= sizes[first] + sizes[second]
    assert rig.fake.traffic.counts["get:reachestimate"] == 1


def test_parallel_reads_for_different_accounts(rig: Rig) -> None:
    connector = rig.connector()
    sequential = {a: sorted(connector.daily_metrics(a, START, END), key=repr) for a in ("shop-de", "shop-jp")}
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda a: sorted(connector.daily_metrics(a, START, END), key=repr),
                                ("shop-de", "shop-jp")))
    assert dict(zip(("shop-de", "shop-jp"), results, strict=True)) == sequential


# -- writes -----------------------------------------------------------------------------------

def test_writes_go_in_batches_of_at_most_fifty_and_change_the_world(rig: Rig) -> None:
    connector = rig.connector()
    ad_sets, ads = _ids(connector, "shop-de", "ad_set"), _ids(connector, "shop-de", "ad")
    mutations = [Mutation("pause" if i % 2 == 0 else "enable", "shop-de", ads[i % len(ads)], {}, f"a{i}")
                 for i in range(55)]
    mutations += [Mutation("pause", "shop-de", ad_sets[0], {}, "s0"),
                  Mutation("set_budget", "shop-de", ad_sets[1], {"daily_budget": "42.50"}, "s1")]
    rig.fake.traffic.reset()
    results = connector.apply("shop-de", mutations)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert rig.fake.traffic.counts["post:batch"] == 2 and rig.fake.traffic.counts["batch:node"] == 57
    live = {e.entity_id: e for e in connector.entities("shop-de")}
    assert live[ad_sets[0]].status == "PAUSED" and live[ad_sets[1]].daily_budget == Decimal("42.50")


def test_at_most_four_budget_changes_per_ad_set_per_hour(rig: Rig) -> None:
    connector = rig.connector()
    ad_set = _ids(connector, "shop-jp", "ad_set")[0]
    budgets = ["5000", "5100", "5200", "5300", "5400"]
    results = connector.apply("shop-jp", [Mutation("set_budget", "shop-jp", ad_set, {"daily_budget": b}, f"b{i}")
                                          for i, b in enumerate(budgets)])
    assert [r.ok for r in results] == [True] * 4 + [False]
    assert "4 budget changes per ad set per hour" in str(results[4].error)
    assert rig.fake.traffic.counts["batch:node"] == 4


def test_exclude_audience_rewrites_the_targeting(rig: Rig) -> None:
    connector = rig.connector()
    ad_set = next(e for e in connector.entities("shop-de") if e.level == "ad_set")
    audience = next(a.audience_id for a in connector.audiences("shop-de")
                    if a.audience_id not in ad_set.attributes["audience_ids"])
    result = connector.apply("shop-de", [Mutation("exclude_audience", "shop-de", ad_set.entity_id,
                                                  {"audience_id": audience}, "x")])[0]
    assert result.ok
    live = connector.entities("shop-de", [ad_set.entity_id])[0]
    assert live.attributes["excluded_audience_ids"] == [audience]
    assert live.attributes["audience_ids"] == ad_set.attributes["audience_ids"]


def test_a_failed_call_in_a_batch_fails_only_its_mutation(rig: Rig) -> None:
    connector = rig.connector()
    ads = _ids(connector, "shop-de", "ad")
    rig.fake.faults.inject("partial_failure", "post:batch", index=1)
    results = connector.apply("shop-de", [Mutation("pause", "shop-de", a, {}, f"k{i}") for i, a in enumerate(ads[:3])])
    assert [r.ok for r in results] == [True, False, True]
    assert "(100/None) Invalid parameter" in str(results[1].error)


# -- retries and failures ---------------------------------------------------------------------

def test_rate_limit_waits_the_time_meta_says_access_returns(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("rate_limit", "get:insights", regain_minutes=2)
    assert list(connector.daily_metrics("shop-de", START, END))
    assert rig.sleeps == [120.0]


@pytest.mark.parametrize("code", [4, 32, 613, 80004])
def test_every_rate_limit_code_is_retried(rig: Rig, code: int) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("rate_limit", "get:campaigns", code=code, regain_minutes=0)
    assert connector.entities("shop-de")
    assert len(rig.sleeps) == 1 and 0.5 <= rig.sleeps[0] <= 1.0


@pytest.mark.parametrize(("fault", "params"), [("server_error", {}), ("unavailable", {}),
                                               ("truncated_page", {}), ("timeout", {"seconds": 2.0})])
def test_transient_errors_are_retried(rig: Rig, fault: str, params: dict[str, Any]) -> None:
    # A timeout long enough that a loaded machine never trips it by accident (the fault waits 2 s).
    connector = rig.connector(timeout=1.0, page_size=7)
    clean = sorted(connector.daily_metrics("shop-de", START, END), key=repr)
    rig.fake.faults.inject(fault, "get:insights", **params)
    assert sorted(connector.daily_metrics("shop-de", START, END), key=repr) == clean
    assert len(rig.sleeps) == 1


def test_usage_headers_slow_the_pace_before_the_limit(rig: Rig) -> None:
    connector = rig.connector()
    rig.fake.usage_percent = 90.0
    connector.accounts()
    connector.entities("shop-de")
    assert rig.sleeps == [36.0, 36.0, 36.0]  # 90 % is 60 % of the way from 75 % to 100 %: 0.6 x 60 s


def test_auth_errors_fail_fast_naming_the_account_without_the_token(rig: Rig) -> None:
    connector = rig.connector()
    rig.fake.faults.inject("auth", "get:account")
    with pytest.raises(PlatformAuthError) as raised:
        connector.accounts()
    message = str(raised.value)
    assert "shop-de" in message and "(190/463)" in message
    assert ACCESS_TOKEN not in message and APP_SECRET not in message
    assert rig.sleeps == [] and rig.fake.traffic.counts["get:account"] == 1


def test_a_malformed_row_is_logged_and_skipped(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    connector = rig.connector()
    clean = list(connector.daily_metrics("shop-de", START, END))
    rig.fake.faults.inject("malformed_row", "get:insights")
    with caplog.at_level(logging.WARNING, logger="connectors.meta.records"):
        rows = list(connector.daily_metrics("shop-de", START, END))
    assert len(rows) == len(clean) - 1
    assert any("shop-de" in r.getMessage() and "malformed" in r.getMessage() for r in caplog.records)
