"""The Meta connector against a fake as strict as the Graph API where real accounts differ from a
friendly fake (docs/connectors.md, "Meta"): reach estimates, overlapping conversion action
types, Advantage campaign budgets, the per-ad-set budget limit (code 17), report runs that fail
or are skipped, and the insights throttle header. Through the real facebook-business SDK."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adset import AdSet
from facebook_business.exceptions import FacebookRequestError

from agent.clock import FixedClock
from agent.config import parse_config
from agent.errors import ConfigError
from connectors.connector_options import ConnectorOptions
from connectors.errors import PlatformUnavailable
from connectors.meta.api import build_api
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.meta.usage import UsageThrottle
from connectors.records import Mutation
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 16), date(2026, 11, 22)
TOKEN = "EAAB-fidelity-token"
CLOCK = FixedClock.at_day(TODAY, hour=12)


@dataclass
class World:
    fake: FakeMeta
    simulator: SimulatorConnector
    sleeps: list[float]

    def connector(self, account: dict[str, Any] | None = None, **options: Any) -> MetaConnector:
        accounts = [{"id": "shop", "credentials": {"access_token": TOKEN, "ad_account_id": "act_777"},
                     **(account or {})}]
        context = ConnectorContext(
            platform="meta", accounts=accounts, settings={}, database_url="sqlite://", now=CLOCK.now,
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=self.sleeps.append, rng=random.Random(1)), tuning=(replace(
                MetaOptions(graph_url=self.fake.url, poll_interval=1.0, timeout=5.0), **options),)))
        return MetaConnector.from_context(context)


@pytest.fixture
def world() -> Iterator[World]:
    simulator = make_simulator([SimAccountSpec("m-shop", "meta", "Shop", "EUR", "Europe/Berlin", 2, 2, 2)], CLOCK.now)
    with FakeMeta(SimBackend(simulator, {"act_777": "m-shop"}), access_token=TOKEN, now=CLOCK.now) as fake:
        yield World(fake, simulator, [])


def _truth(world: World, level: str = "ad_set") -> tuple[Decimal, Decimal]:
    rows = [m for m in world.simulator.daily_metrics("m-shop", START, END) if m.level == level]
    return sum((Decimal(str(m.conversions)) for m in rows), Decimal(0)), sum((m.conversion_value for m in rows),
                                                                             Decimal(0))


def _counted(rows: Any, level: str = "ad_set") -> tuple[Decimal, Decimal]:
    rows = [r for r in rows if r.level == level]
    return sum((Decimal(str(r.conversions)) for r in rows), Decimal(0)), sum((r.conversion_value for r in rows),
                                                                             Decimal(0))


# -- reach estimates --------------------------------------------------------------------------

def test_reach_of_a_custom_audience_is_asked_with_a_location_and_minus_one_is_unknown(world: World) -> None:
    connector = world.connector()
    ad_set = next(e for e in connector.entities("shop") if e.level == "ad_set" and e.attributes["audience_ids"])
    audience = ad_set.attributes["audience_ids"][0]
    size = connector.estimate_reach("shop", [audience])
    assert isinstance(size, int) and size > 0
    sent = [params for kind, _path, params in world.fake.log if kind == "get:reachestimate"]
    assert json.loads(sent[-1]["targeting_spec"])["geo_locations"] == {"countries": ["DE"]}

    world.fake.unavailable_reach.add(str(world.fake.ids.sim(audience)))
    assert connector.estimate_reach("shop", [audience]) is None  # "not available for this business", not -1 people


def test_the_fake_refuses_a_reach_estimate_without_a_location(world: World) -> None:
    api = build_api({"access_token": TOKEN}, UsageThrottle(lambda _s: None), "k", world.fake.url)
    audience = world.fake.ids.numeric(world.simulator.audiences("m-shop")[0].audience_id)
    with pytest.raises(FacebookRequestError, match="geo_locations"):
        AdAccount("act_777", api=api).get_reach_estimate(params={"targeting_spec": {
            "custom_audiences": [{"id": str(audience)}]}})


# -- conversions ------------------------------------------------------------------------------

def test_purchases_are_counted_once_across_their_overlapping_action_types(world: World) -> None:
    rows = world.connector().daily_metrics("shop", START, END)
    assert _counted(rows) == _truth(world)
    assert _counted(rows, "ad") == _truth(world, "ad")


def test_lead_gen_conversions_are_counted_once(world: World) -> None:
    world.fake.conversion_events["act_777"] = "lead"
    rows = list(world.connector({"conversion_event": "lead"}).daily_metrics("shop", START, END))
    conversions, _value = _truth(world)
    assert conversions > 0 and _counted(rows)[0] == conversions


def test_the_attribution_windows_are_asked_for_and_summed(world: World) -> None:
    rows = list(world.connector({"platform_attribution": "7d_click_1d_view"}).daily_metrics("shop", START, END))
    sent = [params for kind, _path, params in world.fake.log if kind == "get:insights"]
    assert sent and all(json.loads(p["action_attribution_windows"]) == ["7d_click", "1d_view"] for p in sent)
    assert _counted(rows) == _truth(world)


def test_config_check_refuses_view_windows_meta_no_longer_returns() -> None:
    account = {"id": "shop", "platform": "meta", "platform_attribution": "7d_click_28d_view"}
    with pytest.raises(ConfigError) as raised:
        parse_config({"accounts": [account]}, environ={})
    assert any("28d_view is no longer returned by Meta" in p for p in raised.value.problems)
    with pytest.raises(ConfigError, match="neither purchase, lead"):
        parse_config({"accounts": [{**account, "platform_attribution": None, "conversion_event": "Leads!"}]},
                     environ={})
    config = parse_config({"accounts": [{**account, "platform_attribution": "7d_click_1d_view",
                                         "conversion_event": "offsite_conversion.custom.123"}]}, environ={})
    assert config.accounts[0].conversion_event == "offsite_conversion.custom.123"


# -- budgets ----------------------------------------------------------------------------------

def test_an_ad_set_budget_under_an_advantage_campaign_budget_is_refused_in_words(world: World) -> None:
    campaign = world.simulator.entities("m-shop")[0]
    assert campaign.level == "campaign"
    world.fake.advantage_campaigns[campaign.entity_id] = Decimal("300")
    connector = world.connector()
    entities = connector.entities("shop")
    ad_set = next(e for e in entities if e.level == "ad_set" and world.fake.ids.sim(e.parent_id) == campaign.entity_id)
    assert ad_set.daily_budget is None and ad_set.attributes["campaign_budget"]
    assert next(e for e in entities if e.entity_id == ad_set.parent_id).daily_budget == Decimal("300.00")
    world.fake.traffic.reset()
    result = connector.apply("shop", [Mutation("set_budget", "shop", ad_set.entity_id, {"daily_budget": "50"}, "k")])[0]
    assert not result.ok
    assert "Advantage campaign budget" in str(result.error) and ad_set.parent_id in str(result.error)
    assert world.fake.traffic.counts["batch:node"] == 0  # refused before a call was spent


def test_the_fake_rejects_an_ad_set_budget_under_an_advantage_campaign_budget(world: World) -> None:
    campaign = world.simulator.entities("m-shop")[0]
    world.fake.advantage_campaigns[campaign.entity_id] = Decimal("300")
    ad_set = next(e for e in world.simulator.entities("m-shop") if e.parent_id == campaign.entity_id)
    api = build_api({"access_token": TOKEN}, UsageThrottle(lambda _s: None), "k", world.fake.url)
    with pytest.raises(FacebookRequestError) as raised:
        AdSet(str(world.fake.ids.numeric(ad_set.entity_id)), api=api).api_update(params={"daily_budget": 5000})
    assert raised.value.api_error_code() == 100 and "Advantage campaign budget" in str(raised.value.body())


def test_code_17_blocks_the_ad_set_for_an_hour_without_a_retry(world: World) -> None:
    connector = world.connector()
    ad_set = next(e for e in connector.entities("shop") if e.level == "ad_set")
    # four changes an hour ago's worth, made elsewhere (Ads Manager, another tool, before a restart)
    world.fake.budget_changes[str(world.fake.ids.sim(ad_set.entity_id))] = [CLOCK.now() - timedelta(minutes=5)] * 4
    world.fake.traffic.reset()
    first = connector.apply("shop", [Mutation("set_budget", "shop", ad_set.entity_id, {"daily_budget": "61"}, "a")])[0]
    assert not first.ok and "for an hour" in str(first.error) and "(17/" in str(first.error)
    assert world.sleeps == [] and world.fake.traffic.counts["batch:node"] == 1
    again = connector.apply("shop", [Mutation("set_budget", "shop", ad_set.entity_id, {"daily_budget": "62"}, "b")])[0]
    assert not again.ok and world.fake.traffic.counts["batch:node"] == 1  # not sent again within the hour


def test_the_fake_answers_code_17_after_four_budget_changes_in_an_hour(world: World) -> None:
    ad_set = next(e for e in world.simulator.entities("m-shop") if e.level == "ad_set")
    api = build_api({"access_token": TOKEN}, UsageThrottle(lambda _s: None), "k", world.fake.url)
    node = AdSet(str(world.fake.ids.numeric(ad_set.entity_id)), api=api)
    for cents in (5000, 5100, 5200, 5300):
        node.api_update(params={"daily_budget": cents})
    with pytest.raises(FacebookRequestError) as raised:
        node.api_update(params={"daily_budget": 5400})
    assert raised.value.api_error_code() == 17


# -- async report runs ------------------------------------------------------------------------

def test_a_report_run_goes_through_every_state_to_completion(world: World) -> None:
    sync = sorted(world.connector().daily_metrics("shop", START, END), key=repr)
    world.fake.polls_until_done = 5
    connector = world.connector(async_rows=0)
    connector.entities("shop")  # known ad sets and ads: big enough for a report run
    assert sorted(connector.daily_metrics("shop", START, END), key=repr) == sync
    assert world.fake.traffic.counts["get:report"] == 10  # Not Started, Started, Running, Running, Completed


@pytest.mark.parametrize("state", ["Job Failed", "Job Skipped"])
def test_a_failed_or_skipped_report_run_is_started_again(world: World, state: str) -> None:
    sync = sorted(world.connector().daily_metrics("shop", START, END), key=repr)
    world.fake.polls_until_done = 1
    world.fake.faults.inject("job_failed", "post:insights", status=state)
    connector = world.connector(async_rows=0)
    connector.entities("shop")
    world.fake.traffic.reset()
    assert sorted(connector.daily_metrics("shop", START, END), key=repr) == sync
    assert world.fake.traffic.counts["post:insights"] == 3  # two levels, one of them run twice


def test_a_report_run_failing_every_time_fails_the_read_in_words(world: World) -> None:
    world.fake.polls_until_done = 1
    world.fake.faults.inject("job_failed", "post:insights", times=3)
    connector = world.connector(async_rows=0)
    connector.entities("shop")
    with pytest.raises(PlatformUnavailable, match="ended with 'Job Failed' 3 times"):
        list(connector.daily_metrics("shop", START, END))
    assert world.fake.traffic.counts["post:insights"] == 3  # bounded: no endless restarts


# -- pacing -----------------------------------------------------------------------------------

def test_the_insights_throttle_header_slows_the_pace(world: World) -> None:
    connector = world.connector()
    connector.entities("shop")
    assert world.sleeps == []
    world.fake.insights_throttle_percent = 90.0
    list(connector.daily_metrics("shop", START, END))
    assert world.sleeps and world.sleeps[0] == pytest.approx(36.0)  # 90 %: 60 % of the way from 75 % to 100 %
