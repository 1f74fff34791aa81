"""Google Ads breakdowns (device, age, gender, region, customer type) through the real google-ads SDK against the fake."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from google.ads.googleads.client import GoogleAdsClient

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.google_ads.breakdowns import segment_of
from connectors.google_ads.connector import GoogleAdsConnector, GoogleAdsOptions
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.segments import AGES, breakdown_totals, complete_with_unknown
from connectors.simulator.world import SimAccountSpec
from tests.fakes.google_ads_server import FakeGoogleAds
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 16), date(2026, 11, 22)
YESTERDAY_BUT_ONE = date(2026, 11, 21)
TOKEN = "dev-token"


@pytest.fixture
def google() -> Iterator[tuple[GoogleAdsConnector, FakeGoogleAds]]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("g-de", "google_ads", "Search DE", "EUR", "Europe/Berlin", 2, 2, 2)],
                               clock.now)
    with FakeGoogleAds(SimBackend(simulator, {"1234567890": "g-de"}), developer_token=TOKEN) as fake:
        context = ConnectorContext(
            platform="google_ads", database_url="sqlite://", settings={}, now=clock.now,
            accounts=[{"id": "acme-de", "credentials": {"developer_token": TOKEN, "customer_id": "1234567890"}}],
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _: None, rng=random.Random(1)),
                                     tuning=(GoogleAdsOptions(channel_factory=fake.channel_factory()),)))
        yield GoogleAdsConnector.from_context(context), fake


def test_every_breakdown_sums_to_the_ad_groups_totals_in_our_names(
        google: tuple[GoogleAdsConnector, FakeGoogleAds]) -> None:
    connector, fake = google
    totals = [m for m in connector.daily_metrics("acme-de", START, END) if m.level == "ad_set"]
    # customer_type is read, and stored, only where the account has a customer lifecycle goal
    assert connector.breakdown_reports("acme-de") == ("device", "age", "gender", "region", "customer_type")
    expected = {"device": {"mobile", "desktop", "tablet"}, "age": set(AGES), "gender": {"male", "female", "unknown"},
                "region": {"bavaria", "berlin", "hamburg", "north-rhine-westphalia"}}
    for report, names in expected.items():
        rows = list(connector.segment_metrics("acme-de", report, START, END))
        assert {r.segment for r in rows} == names
        assert {r.dimension for r in rows} == {report}
        sums = breakdown_totals(complete_with_unknown(rows, totals, [report]))
        for total in totals:
            spend, conversions = sums[(total.entity_id, total.day, report)]
            assert abs(spend - total.spend) <= Decimal("0.00001") * 4, (report, total)
            assert conversions == pytest.approx(total.conversions)
    kinds = [kind for kind, _ in fake.requests]
    # one report per breakdown, plus one lookup of the regions' names
    assert kinds.count("search:age_range_view") == kinds.count("search:gender_view") == 1
    assert kinds.count("search:geographic_view") == kinds.count("search:geo_target_constant") == 1
    queries = [query for kind, query in fake.requests if kind == "search:ad_group" and "segments.device" in query]
    assert len(queries) == 1


def test_region_names_are_looked_up_once_per_connector(google: tuple[GoogleAdsConnector, FakeGoogleAds]) -> None:
    connector, fake = google
    list(connector.segment_metrics("acme-de", "region", START, END))
    list(connector.segment_metrics("acme-de", "region", START, END))
    assert [kind for kind, _ in fake.requests].count("search:geo_target_constant") == 1


def test_new_and_returning_customers_where_the_account_has_a_lifecycle_goal(
        google: tuple[GoogleAdsConnector, FakeGoogleAds]) -> None:
    connector, fake = google
    for _ in range(2):  # no goal: no report; the goal is asked once per report day
        assert list(connector.segment_metrics("acme-de", "customer_type", START, YESTERDAY_BUT_ONE)) == []
    assert [kind for kind, _ in fake.requests if kind != "search:customer"] == ["search:goal"]
    fake.lifecycle_goals["1234567890"] = ("NEW_CUSTOMER_ACQUISITION",)
    rows = list(connector.segment_metrics("acme-de", "customer_type", START, END))
    assert {r.segment for r in rows} == {"new", "returning", "unknown"}
    assert all(r.spend == 0 and r.clicks == 0 and r.impressions == 0 for r in rows)  # conversions only
    totals = [m for m in connector.daily_metrics("acme-de", START, END) if m.level == "ad_set"]
    sums = breakdown_totals(complete_with_unknown(rows, totals, ["customer_type"]))
    for total in totals:
        spend, conversions = sums[(total.entity_id, total.day, "customer_type")]
        assert spend == total.spend and conversions == pytest.approx(total.conversions)
    [query] = [q for _, q in fake.requests if "new_versus_returning_customers" in q]
    assert "FROM ad_group" in query and "metrics.cost_micros" not in query


def test_a_raw_rows_enums_read_by_name_and_a_number_the_sdk_does_not_know_is_unknown() -> None:
    row_type = type(GoogleAdsClient(credentials=None, developer_token="x", use_proto_plus=True).get_type("GoogleAdsRow"))
    row = row_type()
    row.segments.device = row_type.pb(row_type()).segments.DESCRIPTOR.fields_by_name["device"].enum_type \
        .values_by_name["MOBILE"].number
    row.ad_group_criterion.gender.type_ = 999_999  # a value newer than this SDK
    raw = row_type.pb(row)
    assert segment_of("device", raw, {}) == "mobile"
    assert segment_of("gender", raw, {}) == "unknown"
