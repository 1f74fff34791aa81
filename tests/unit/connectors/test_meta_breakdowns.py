"""Meta insights breakdowns through the real facebook-business SDK against the fake Graph API."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.errors import ConnectorError
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.segments import AGES, UNKNOWN, breakdown_totals, complete_with_unknown
from connectors.simulator.world import SimAccountSpec
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 16), date(2026, 11, 22)
TOKEN = "EAAB-token"


@pytest.fixture
def meta() -> Iterator[tuple[MetaConnector, FakeMeta]]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("m-de", "meta", "Social DE", "EUR", "Europe/Berlin", 2, 2, 2)],
                               clock.now)
    with FakeMeta(SimBackend(simulator, {"act_555": "m-de"}), access_token=TOKEN) as fake:
        credentials = {"access_token": TOKEN, "app_id": "1234", "app_secret": "s", "ad_account_id": "act_555"}
        context = ConnectorContext(
            platform="meta", accounts=[{"id": "shop-de", "credentials": credentials}], settings={},
            database_url="sqlite://", now=clock.now,
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _: None, rng=random.Random(1)),
                                     tuning=(MetaOptions(graph_url=fake.url, poll_interval=0.01, timeout=5.0),)))
        yield MetaConnector.from_context(context), fake


def _insight_requests(fake: FakeMeta) -> list[dict[str, str]]:
    """First pages only: a long report's next pages are the same request continued."""
    return [params for kind, _, params in fake.log
            if "insights" in kind and params.get("breakdowns") and not params.get("after")]


def test_every_breakdown_sums_to_the_ad_sets_totals_in_our_names(meta: tuple[MetaConnector, FakeMeta]) -> None:
    connector, fake = meta
    totals = [m for m in connector.daily_metrics("shop-de", START, END) if m.level == "ad_set"]
    expected = {"age_gender": {"age": set(AGES), "gender": {"male", "female", UNKNOWN}},
                "region": {"region": {"bavaria", "berlin", "hamburg", "north-rhine-westphalia"}},
                "placement": {"placement": {"facebook_feed", "instagram_feed", "instagram_stories", "facebook_reels",
                                            "audience_network_classic"}},
                "device": {"device": {"mobile", "desktop"}}}
    assert tuple(connector.breakdown_reports("shop-de")) == tuple(expected)
    for report, dimensions in expected.items():
        rows = list(connector.segment_metrics("shop-de", report, START, END))
        for dimension, names in dimensions.items():
            assert {r.segment for r in rows if r.dimension == dimension} == names
        sums = breakdown_totals(complete_with_unknown(rows, totals, list(dimensions)))
        for total in totals:
            for dimension in dimensions:
                spend, conversions = sums[(total.entity_id, total.day, dimension)]
                assert spend == total.spend and conversions == pytest.approx(total.conversions), (report, dimension)
    # one request per breakdown; age and gender in one; placement's position paired with its platform
    sent = sorted(params["breakdowns"] for params in _insight_requests(fake))
    assert len(sent) == 4
    assert any("age" in b and "gender" in b for b in sent)
    assert any("publisher_platform" in b and "platform_position" in b for b in sent)


def test_region_rows_carry_no_off_meta_conversions_so_they_land_in_unknown(
        meta: tuple[MetaConnector, FakeMeta]) -> None:
    connector, _ = meta
    totals = [m for m in connector.daily_metrics("shop-de", START, END) if m.level == "ad_set"]
    rows = complete_with_unknown(list(connector.segment_metrics("shop-de", "region", START, END)), totals, ["region"])
    assert sum(r.conversions for r in rows if r.segment != UNKNOWN) == 0
    assert sum(r.spend for r in rows if r.segment != UNKNOWN) == sum((t.spend for t in totals), Decimal(0))
    assert sum(r.conversions for r in rows if r.segment == UNKNOWN) == pytest.approx(sum(t.conversions for t in totals))


def test_the_fake_refuses_combinations_meta_refuses(meta: tuple[MetaConnector, FakeMeta]) -> None:
    connector, _ = meta
    account = connector._account("shop-de")
    with pytest.raises(ConnectorError, match="combination"):
        connector._insights(account, "adset", START, END, breakdowns=("age", "region"))
    with pytest.raises(ConnectorError, match="publisher_platform"):
        connector._insights(account, "adset", START, END, breakdowns=("platform_position",))
