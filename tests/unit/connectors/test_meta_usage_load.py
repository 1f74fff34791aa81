"""Meta's usage headers rising under load: the fake Graph API counts calls per ad account in a rolling
window (tests/fakes/meta_usage.py), and the connector, through the real facebook-business SDK, slows
down past 75% and waits out a refusal for the time Meta says access returns."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.meta import api
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.meta.usage import Usage, meta_usage
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.world import SimAccountSpec
from tests.fakes.meta_server import FakeMeta
from tests.fakes.meta_usage import LoadUsage, Refusal, ads_management_allowance
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
TOKEN = "EAAB-usage-token"
WINDOW = 120.0
ALLOWANCE = 8  # calls per ad account per window: each call is 12.5 %


@dataclass
class Seconds:
    """The usage window's clock, moved only by the connector's sleeps (throttle pauses, retry waits)."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def read(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Rig:
    fake: FakeMeta
    clock: Seconds
    seen: list[Usage]  # the usage the connector read from each answer's headers, in order

    def connector(self) -> MetaConnector:
        credentials = {"access_token": TOKEN, "app_id": "1234", "app_secret": "app-secret"}
        accounts = [{"id": "shop-de", "credentials": {**credentials, "ad_account_id": "act_555"}},
                    {"id": "shop-jp", "credentials": {**credentials, "ad_account_id": "act_556"}}]
        context = ConnectorContext(
            platform="meta", accounts=accounts, settings={}, database_url="sqlite://",
            now=FixedClock.at_day(TODAY, hour=12).now,
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=self.clock.sleep, rng=random.Random(1)),
                                     tuning=(MetaOptions(graph_url=self.fake.url, timeout=5.0),)))
        return MetaConnector.from_context(context)


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    seen: list[Usage] = []

    def reading(headers: dict[str, str]) -> Usage:
        seen.append(meta_usage(headers))
        return seen[-1]

    monkeypatch.setattr(api, "meta_usage", reading)
    clock = Seconds()
    specs = [SimAccountSpec("m-de", "meta", "Social DE", "EUR", "Europe/Berlin", 2, 2, 2),
             SimAccountSpec("m-jp", "meta", "Social JP", "JPY", "Asia/Tokyo", 2, 2, 2)]
    simulator = make_simulator(specs, FixedClock.at_day(TODAY, hour=12).now)
    usage = LoadUsage(ALLOWANCE, window=WINDOW, clock=clock.read)
    with FakeMeta(SimBackend(simulator, {"act_555": "m-de", "act_556": "m-jp"}), access_token=TOKEN,
                  usage=usage) as fake:
        yield Rig(fake, clock, seen)


def test_usage_rises_with_calls_slows_the_pace_past_75_and_a_refused_call_waits_for_access(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()  # one call on each ad account: 12.5 % each
    for _ in range(6):
        connector.audiences("shop-de")  # one request each
    assert [u.percent for u in rig.seen] == [12.5, 12.5, 25.0, 37.5, 50.0, 62.5, 75.0, 87.5]
    assert rig.clock.slept == []  # nothing waits up to 75 %

    connector.audiences("shop-de")
    assert rig.clock.slept == [30.0]  # 87.5 % is half way from 75 % to 100 %: half of the 60 s pause
    assert rig.seen[-1].percent == 100.0 and rig.fake.traffic.refused == {}

    connector.audiences("shop-jp")  # another ad account has its own allowance
    assert rig.seen[-1].percent == 25.0 and rig.clock.slept == [30.0]

    rig.fake.traffic.reset()
    assert connector.audiences("shop-de")  # past 100 %: refused, then retried once access returns
    assert rig.fake.traffic.refused == {"account": 1}
    assert rig.fake.traffic.counts == {"get:customaudiences": 2}
    # the throttle's full pause at 100 % (t = 90 s); then the refusal's time to regain access: the
    # first call (t = 0) leaves the 120 s window at t = 120; and no second pause on the stale 100 %
    assert rig.clock.slept[1:] == [60.0, pytest.approx(30.0)]
    refused = next(u for u in rig.seen if u.regain_seconds)
    assert refused.percent == 100.0 and refused.regain_seconds == pytest.approx(30.0)
    assert rig.seen[-1].percent == 25.0  # at t = 120 only the call of t = 30 is still in the window, and this one
    assert rig.fake.traffic.peak_usage == 100.0


def test_counts_leave_the_window_and_the_app_has_its_own_allowance() -> None:
    clock = Seconds()
    usage = LoadUsage(4, window=60, app_allowance=6, clock=clock.read)
    assert [usage.charge("act_1") for _ in range(4)] == [None] * 4
    clock.sleep(15)
    assert usage.charge("act_1") == Refusal("account", 45.0)
    headers, peak = usage.headers("act_1", Refusal("account", 45.0))
    assert meta_usage(headers) == Usage(100.0, 45.0) and peak == 100.0
    assert [usage.charge("act_2") for _ in range(2)] == [None, None]
    assert usage.percents("act_2") == (50.0, 100.0)
    assert usage.charge("act_2") == Refusal("app", 45.0)
    assert meta_usage(usage.headers("act_2", Refusal("app", 45.0))[0]) == Usage(100.0, 0.0)  # no regain hint
    clock.sleep(45)  # the first four calls leave the window
    assert usage.percents("act_1") == (0.0, pytest.approx(100 * 2 / 6))
    assert usage.charge("act_1") is None


def test_the_hourly_allowance_follows_the_documented_formula() -> None:
    assert ads_management_allowance(75, "development") == 300 + 40 * 75
    assert ads_management_allowance(75, "standard") == 100_000 + 40 * 75
    assert ads_management_allowance(75, "development", window=60) == pytest.approx(3300 / 60)
