"""LinkedIn professional-demographic breakdowns through the connector's REST client against the fake."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.errors import ConnectorError
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.segments import (
    COMPANY_SIZES,
    UNKNOWN,
    breakdown_totals,
    complete_with_unknown,
    linkedin_segment,
)
from connectors.simulator.world import SimAccountSpec
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 9), date(2026, 11, 22)
TOKEN = "AQV-token"


@pytest.fixture
def linkedin() -> Iterator[tuple[LinkedInConnector, FakeLinkedIn]]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("l-uk", "linkedin", "B2B UK", "GBP", "Europe/London", 2, 2, 2)],
                               clock.now)
    with FakeLinkedIn(SimBackend(simulator, {"5001": "l-uk"}), access_token=TOKEN) as fake:
        context = ConnectorContext(
            platform="linkedin", settings={}, database_url="sqlite://", now=clock.now,
            accounts=[{"id": "acme-b2b", "timezone": "Europe/London",
                       "credentials": {"access_token": TOKEN, "ad_account_id": "urn:li:sponsoredAccount:5001"}}],
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _: None, rng=random.Random(1)),
                                     tuning=(LinkedInOptions(base_url=fake.url, timeout=5.0),)))
        yield LinkedInConnector.from_context(context), fake


def test_pivot_values_get_our_names() -> None:
    assert linkedin_segment("company_size", "SIZE_11_TO_50") == "11-50"
    assert linkedin_segment("seniority", "urn:li:seniority:8") == "cxo"
    assert linkedin_segment("job_function", "urn:li:function:13") == "information-technology"
    assert linkedin_segment("industry", "urn:li:industry:4") == "software-development"
    assert linkedin_segment("industry", "urn:li:industry:1234") == "industry-1234"
    assert linkedin_segment("seniority", "urn:li:seniority:99") == UNKNOWN


def test_every_pivot_sums_to_the_campaigns_totals_with_the_privacy_gap_as_unknown(
        linkedin: tuple[LinkedInConnector, FakeLinkedIn]) -> None:
    connector, fake = linkedin
    totals = [m for m in connector.daily_metrics("acme-b2b", START, END) if m.level == "ad_set"]
    fake.traffic.reset()
    assert connector.breakdown_reports("acme-b2b") == ("company_size", "industry", "seniority", "job_function")
    below_threshold = Decimal(0)
    for report in connector.breakdown_reports("acme-b2b"):
        rows = list(connector.segment_metrics("acme-b2b", report, START, END))
        assert rows and {r.dimension for r in rows} == {report}
        assert UNKNOWN not in {r.segment for r in rows}
        if report == "company_size":
            assert {r.segment for r in rows} <= set(COMPANY_SIZES)
        complete = complete_with_unknown(rows, totals, [report])
        below_threshold += sum((r.spend for r in complete if r.segment == UNKNOWN), Decimal(0))
        sums = breakdown_totals(complete)
        for total in totals:
            spend, conversions = sums[(total.entity_id, total.day, report)]
            assert spend == total.spend and conversions == pytest.approx(total.conversions)
    assert below_threshold > 0, "values under LinkedIn's privacy threshold are left out and land in unknown"
    assert fake.traffic.count("get:adAnalytics") == 4  # one request per pivot, every campaign at once


def test_two_demographic_pivots_in_one_request_are_refused(linkedin: tuple[LinkedInConnector, FakeLinkedIn]) -> None:
    connector, _ = linkedin
    account = connector._account("acme-b2b")
    query = ("q=statistics&pivots=List(MEMBER_SENIORITY,MEMBER_COMPANY_SIZE)&timeGranularity=DAILY"
             "&dateRange=(start:(year:2026,month:11,day:9),end:(year:2026,month:11,day:22))"
             "&accounts=List(urn%3Ali%3AsponsoredAccount%3A5001)&fields=clicks")
    with pytest.raises(ConnectorError, match="one professional demographic pivot"):
        connector._request(account, "x", "GET", "/rest/adAnalytics", query)
