"""Performance Max through the Google Ads connector (real SDK) against the fake gRPC server."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.google_ads import pmax
from connectors.google_ads.connector import GoogleAdsConnector, GoogleAdsOptions
from connectors.records import Mutation
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.gaql import check_query
from tests.fakes.google_ads_server import FakeGoogleAds
from tests.fakes.google_pmax import PmaxCampaign, PmaxDay, channel_filter
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 16), date(2026, 11, 22)
TOKEN = "dev-token"
PMAX_ID = 20_000_000_001


@dataclass
class Rig:
    fake: FakeGoogleAds
    simulator: SimulatorConnector
    campaign: PmaxCampaign

    def connector(self) -> GoogleAdsConnector:
        context = ConnectorContext(
            platform="google_ads", settings={}, database_url="sqlite://", now=FixedClock.at_day(TODAY, hour=12).now,
            accounts=[{"id": "acme-us", "credentials": {"developer_token": TOKEN, "customer_id": "1234567890"}}],
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(1)),
                                     tuning=(GoogleAdsOptions(channel_factory=self.fake.channel_factory()),)))
        return GoogleAdsConnector.from_context(context)


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("g-us", "google_ads", "Search US", "USD", "America/New_York",
                                               2, 2, 2)], clock.now)
    with FakeGoogleAds(SimBackend(simulator, {"1234567890": "g-us"}), developer_token=TOKEN) as fake:
        campaign = fake.pmax.add("1234567890", PmaxCampaign(PMAX_ID, "PMax Shoes", Decimal("150.00")))
        for offset in range(7):
            campaign.days[START + timedelta(days=offset)] = PmaxDay(
                Decimal("120.50") + offset, 4000 + offset, 90 + offset, 6.5, Decimal("830.25"))
        yield Rig(fake, simulator, campaign)


def test_pmax_delivery_is_read_at_campaign_level_under_its_own_ad_set(rig: Rig) -> None:
    connector = rig.connector()
    rows = list(connector.daily_metrics("acme-us", START, END))
    ad_set = pmax.ad_set_id(str(PMAX_ID))
    pmax_rows = sorted((r for r in rows if r.entity_id == ad_set), key=lambda r: r.day)
    assert [r.day for r in pmax_rows] == [START + timedelta(days=i) for i in range(7)]
    assert all(r.level == "ad_set" for r in pmax_rows)
    assert sum(r.spend for r in pmax_rows) == sum(d.spend for d in rig.campaign.days.values())
    assert pmax_rows[0].conversions == 6.5 and pmax_rows[0].conversion_value == Decimal("830.25")
    # Search delivery is still read by ad group, never twice through the campaign report
    search = sum(m.spend for m in rig.simulator.daily_metrics("g-us", START, END) if m.level == "ad_set")
    total = sum(r.spend for r in rows if r.level == "ad_set")
    assert total == search + sum(d.spend for d in rig.campaign.days.values())
    query = next(q for kind, q in rig.fake.requests if kind == "search:campaign" and "segments.date" in q)
    assert check_query(query) is None and "advertising_channel_type = 'PERFORMANCE_MAX'" in query


def test_pmax_campaign_holds_its_budget_and_its_ad_set_is_read_only(rig: Rig) -> None:
    entities = {e.entity_id: e for e in rig.connector().entities("acme-us")}
    campaign, ad_set = entities[str(PMAX_ID)], entities[pmax.ad_set_id(str(PMAX_ID))]
    assert campaign.attributes["channel"] == "PERFORMANCE_MAX" and campaign.daily_budget == Decimal("150")
    assert (ad_set.level, ad_set.parent_id, ad_set.status, ad_set.daily_budget) == ("ad_set", str(PMAX_ID), "ACTIVE",
                                                                                 None)
    assert ad_set.attributes["read_only"] is True
    # only Performance Max campaigns get a stand-in: Search ad groups are read as before
    assert sum(1 for e in entities.values() if e.attributes.get("read_only")) == 1


def test_a_write_on_the_pmax_ad_set_is_refused_and_its_budget_moves_on_the_campaign(rig: Rig) -> None:
    connector = rig.connector()
    connector.entities("acme-us")
    ad_set = pmax.ad_set_id(str(PMAX_ID))
    pause, budget = connector.apply("acme-us", [
        Mutation("pause", "acme-us", ad_set, {"status": "PAUSED"}, "k-pause"),
        Mutation("set_budget", "acme-us", str(PMAX_ID), {"daily_budget": "135.00"}, "k-budget")])
    assert not pause.ok and f"act on campaign {PMAX_ID}" in str(pause.error)
    assert budget.ok, budget.error
    assert rig.campaign.daily_budget == Decimal("135.00") and rig.campaign.status == "ENABLED"
    assert not any(kind in ("mutate:CampaignService", "mutate:AdGroupService") for kind, _ in rig.fake.requests)


def test_the_fake_honours_a_channel_filter_like_the_api() -> None:
    assert channel_filter("SELECT campaign.id FROM campaign WHERE campaign.advertising_channel_type = 'SEARCH'")(
        "PERFORMANCE_MAX") is False
    keep = channel_filter("SELECT campaign.id FROM campaign WHERE campaign.advertising_channel_type != 'SEARCH'")
    assert keep("PERFORMANCE_MAX") and not keep("SEARCH")
    assert channel_filter("SELECT campaign.id FROM campaign")("SEARCH")


def test_a_malformed_pmax_row_is_skipped_and_named_the_rest_ingested(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("malformed_row", "search:campaign")
    rows = [r for r in connector.daily_metrics("acme-us", START, END) if r.entity_id == pmax.ad_set_id(str(PMAX_ID))]
    assert len(rows) == 6
    assert f"performance_max metrics row {PMAX_ID}@2026-02-30" in caplog.text
