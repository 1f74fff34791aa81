"""The LinkedIn connector (httpx, versioned REST) against the local fake LinkedIn API."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.errors import PlatformAuthError, PlatformRequestError
from connectors.linkedin.connector import ANALYTICS_FIELDS, LinkedInConnector, LinkedInOptions
from connectors.linkedin.reports import metric_row
from connectors.records import Mutation
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 16), date(2026, 11, 22)
ACCESS_TOKEN = "AQV-linkedin-SECRET-token"


@dataclass
class Rig:
    fake: FakeLinkedIn
    simulator: SimulatorConnector
    sleeps: list[float]

    def connector(self, **options: Any) -> LinkedInConnector:
        context = ConnectorContext(
            platform="linkedin", settings={}, database_url="sqlite://", now=FixedClock.at_day(TODAY, hour=12).now,
            accounts=[{"id": "acme-b2b", "timezone": "Europe/London",
                       "credentials": {"access_token": ACCESS_TOKEN, "ad_account_id": "urn:li:sponsoredAccount:5001"}}],
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=self.sleeps.append, rng=random.Random(1)), tuning=(replace(
                LinkedInOptions(base_url=self.fake.url, timeout=5.0), **options),)))
        return LinkedInConnector.from_context(context)


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("l-uk", "linkedin", "B2B UK", "GBP", "Europe/London", 2, 2, 2)],
                               clock.now)
    with FakeLinkedIn(SimBackend(simulator, {"5001": "l-uk"}), access_token=ACCESS_TOKEN) as fake:
        yield Rig(fake, simulator, [])


def _ids(connector: LinkedInConnector, level: str) -> list[str]:
    return [e.entity_id for e in connector.entities("acme-b2b") if e.level == level]


def test_analytics_element_is_parsed_by_hand() -> None:
    row = metric_row({"dateRange": {"start": {"year": 2026, "month": 11, "day": 20}, "end": {"year": 2026, "month": 11,
                                                                                          "day": 20}},
                   "pivotValues": ["urn:li:sponsoredCampaign:77"], "impressions": 900, "clicks": 12,
                   "costInLocalCurrency": "45.678", "externalWebsiteConversions": 2,
                   "conversionValueInLocalCurrency": "300.00", "approximateMemberReach": 640},
                  "acme-b2b", "GBP", "ad_set")
    assert (row.entity_id, row.day, row.spend, row.conversions, row.conversion_value, row.reach) == (
        "77", date(2026, 11, 20), Decimal("45.678"), 2.0, Decimal("300.00"), 640)
    assert len(ANALYTICS_FIELDS) <= 20


def test_reads_match_the_world_with_one_analytics_request_per_pivot(rig: Rig) -> None:
    connector = rig.connector()
    assert connector.accounts()[0].currency == "GBP"
    connector.entities("acme-b2b")  # campaign objectives known: no structure read with the analytics
    rig.fake.traffic.reset()
    rows = list(connector.daily_metrics("acme-b2b", START, END))
    truth = list(rig.simulator.daily_metrics("l-uk", START, END))
    assert len(rows) == len(truth) and sum(r.spend for r in rows) == sum(m.spend for m in truth)
    assert rig.fake.traffic.counts == {"get:adAnalytics:CAMPAIGN": 1, "get:adAnalytics:CREATIVE": 1}
    kind, _, params = rig.fake.log[-1]
    assert params["timeGranularity"] == "DAILY" and "costInLocalCurrency" in params["fields"]


def test_finders_page_with_page_tokens(rig: Rig) -> None:
    connector = rig.connector(page_size=3)
    connector.accounts()
    rig.fake.traffic.reset()
    entities = connector.entities("acme-b2b")
    creatives = sum(1 for e in entities if e.level == "ad")
    assert creatives == 8 and rig.fake.traffic.counts["get:creatives"] == 3
    levels = {e.level: e for e in entities}
    assert levels["ad_set"].daily_budget is not None and levels["ad_set"].attributes["audience_ids"]


def test_audiences_and_reach(rig: Rig) -> None:
    connector = rig.connector()
    audiences = connector.audiences("acme-b2b")
    first, second = audiences[0], audiences[1]
    union = connector.estimate_reach("acme-b2b", [first.audience_id, second.audience_id])
    assert max(first.estimated_size, second.estimated_size) <= union <= first.estimated_size + second.estimated_size


def test_partial_updates_change_the_world(rig: Rig) -> None:
    connector = rig.connector()
    ad_sets, ads, groups = _ids(connector, "ad_set"), _ids(connector, "ad"), _ids(connector, "campaign")
    results = connector.apply("acme-b2b", [
        Mutation("pause", "acme-b2b", ad_sets[0], {}, "a"),
        Mutation("set_budget", "acme-b2b", ad_sets[1], {"daily_budget": "42.50"}, "b"),
        Mutation("pause", "acme-b2b", ads[0], {}, "c"),
        Mutation("pause", "acme-b2b", groups[1], {}, "d"),
        Mutation("set_budget", "acme-b2b", ad_sets[1], {"daily_budget": "1.234"}, "e"),
    ])
    assert [r.ok for r in results] == [True, True, True, True, False]
    sent = [(k, body) for k, _, body in rig.fake.log if k.startswith("post:")]
    assert sent[0] == ("post:adCampaigns", {"patch": {"$set": {"status": "PAUSED"}}})
    assert sent[1][1] == {"patch": {"$set": {"dailyBudget": {"amount": "42.50", "currencyCode": "GBP"}}}}
    assert sent[2] == ("post:creatives", {"patch": {"$set": {"intendedStatus": "PAUSED"}}})
    live = {e.entity_id: e for e in connector.entities("acme-b2b")}
    assert live[ad_sets[0]].status == "PAUSED" and live[ad_sets[1]].daily_budget == Decimal("42.50")
    assert live[ads[0]].status == "PAUSED" and live[groups[1]].status == "PAUSED"


def test_exclude_audience_patches_the_targeting(rig: Rig) -> None:
    connector = rig.connector()
    ad_set = next(e for e in connector.entities("acme-b2b") if e.level == "ad_set")
    other = next(a.audience_id for a in connector.audiences("acme-b2b")
                 if a.audience_id not in ad_set.attributes["audience_ids"])
    assert connector.apply("acme-b2b", [Mutation("exclude_audience", "acme-b2b", ad_set.entity_id,
                                                 {"audience_id": other}, "x")])[0].ok
    assert connector.entities("acme-b2b", [ad_set.entity_id])[0].attributes["excluded_audience_ids"] == [other]


def test_429_honours_retry_after(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("rate_limit", "get:adAnalytics:CREATIVE", retry_after=42)
    assert list(connector.daily_metrics("acme-b2b", START, END))
    assert rig.sleeps == [42.0]


@pytest.mark.parametrize(("fault", "params"), [("server_error", {}), ("unavailable", {}), ("truncated_page", {}),
                                               ("timeout", {"seconds": 2.0})])
def test_transient_errors_are_retried(rig: Rig, fault: str, params: dict[str, Any]) -> None:
    # A timeout long enough that a loaded machine never trips it by accident (the fault waits 2 s).
    connector = rig.connector(timeout=1.0)
    clean = sorted(connector.daily_metrics("acme-b2b", START, END), key=repr)
    rig.fake.faults.inject(fault, "get:adAnalytics:CAMPAIGN", **params)
    assert sorted(connector.daily_metrics("acme-b2b", START, END), key=repr) == clean
    assert len(rig.sleeps) == 1 and 0.5 <= rig.sleeps[0] <= 1.0


def test_auth_errors_fail_fast_without_the_token(rig: Rig) -> None:
    connector = rig.connector()
    rig.fake.faults.inject("auth", "get:adAccounts")
    with pytest.raises(PlatformAuthError) as raised:
        connector.accounts()
    assert "acme-b2b" in str(raised.value) and "401" in str(raised.value)
    assert ACCESS_TOKEN not in str(raised.value) and rig.sleeps == []


def test_invalid_requests_fail_fast(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("invalid", "get:adAnalytics:CAMPAIGN")
    with pytest.raises(PlatformRequestError, match="acme-b2b"):
        list(connector.daily_metrics("acme-b2b", START, END))
    assert rig.sleeps == []


def test_a_malformed_element_is_logged_and_skipped(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    connector = rig.connector()
    clean = list(connector.daily_metrics("acme-b2b", START, END))
    rig.fake.faults.inject("malformed_row", "get:adAnalytics:CAMPAIGN")
    with caplog.at_level(logging.WARNING, logger="connectors.linkedin"):
        rows = list(connector.daily_metrics("acme-b2b", START, END))
    assert len(rows) == len(clean) - 1
    assert any("acme-b2b" in r.getMessage() and "malformed" in r.getMessage() for r in caplog.records)
