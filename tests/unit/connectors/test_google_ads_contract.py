"""The Google Ads connector, through the real google-ads SDK, against a fake as strict as the API:
GAQL checked with the v26 protos, responsive search ad limits, `login-customer-id` for accounts
under a manager, explicitly shared budgets (issue 17)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from google.ads.googleads.errors import GoogleAdsException

from agent.bootstrap import account_as_mapping
from agent.clock import FixedClock
from agent.config import parse_config
from connectors.connector_options import ConnectorOptions
from connectors.errors import PlatformAuthError
from connectors.google_ads import campaign_criteria, reports
from connectors.google_ads.connector import GoogleAdsConnector, GoogleAdsOptions
from connectors.google_ads.transport import GoogleAdsTransport, error_code_name
from connectors.records import Mutation
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.gaql import check_query
from tests.fakes.google_ads_server import FakeGoogleAds
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 16), date(2026, 11, 22)
TOKEN = "dev-token-contract"
CUSTOMER, MANAGER = "1234567890", "1112223333"
RSA = {"headlines": ["Fresh beans", "Roasted today", "Free delivery"],
       "descriptions": ["Order by noon, brew tomorrow.", "Single-origin beans, roasted in small batches."],
       "final_urls": ["https://shop.example/beans"]}


@dataclass
class Rig:
    fake: FakeGoogleAds
    simulator: SimulatorConnector

    def connector(self, **account: Any) -> GoogleAdsConnector:
        context = ConnectorContext(
            platform="google_ads", settings={}, database_url="sqlite://", now=FixedClock.at_day(TODAY, hour=12).now,
            accounts=[{"id": "acme-us", "platform_account_id": CUSTOMER,
                       "credentials": {"developer_token": TOKEN}, **account}],
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(1)),
                                     tuning=(GoogleAdsOptions(channel_factory=self.fake.channel_factory()),)))
        return GoogleAdsConnector.from_context(context)


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("g-us", "google_ads", "Search US", "USD", "America/New_York", 3, 2, 2)],
                               clock.now)
    with FakeGoogleAds(SimBackend(simulator, {CUSTOMER: "g-us"}), developer_token=TOKEN) as fake:
        yield Rig(fake, simulator)


def _search(rig: Rig, query: str) -> list[Any]:
    service = GoogleAdsTransport({"developer_token": TOKEN}, rig.fake.channel_factory()).service("GoogleAdsService")
    return [row for batch in service.search_stream(customer_id=CUSTOMER, query=query) for row in batch.results]


# -- GAQL ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "code"), [
    ("SELECT campaign.id, campaign.budget_amount FROM campaign", "UNRECOGNIZED_FIELD"),
    ("SELECT campaign.id FROM campaigns", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
    ("SELECT ad_group.id, segments.date, metrics.clicks FROM ad_group", "EXPECTED_FILTERS_ON_DATE_RANGE"),
    ("SELECT campaign.id, ad_group.id FROM campaign", "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"),
    ("SELECT ad_group.id FROM ad_group WHERE ad_group.colour = 'RED'", "UNRECOGNIZED_FIELD"),
    # WHERE joins conditions with AND only; IN takes a non-empty list; enum values must be the enum's
    ("SELECT campaign.id FROM campaign_criterion WHERE campaign_criterion.type = 'LOCATION' "
     "OR campaign_criterion.type = 'USER_LIST'", "UNEXPECTED_INPUT"),
    ("SELECT campaign.id FROM campaign_criterion WHERE campaign_criterion.type IN 'LOCATION'", "EXPECTED_LIST"),
    ("SELECT campaign.id FROM campaign_criterion WHERE campaign_criterion.type IN ()",
     "PROHIBITED_EMPTY_LIST_IN_CONDITION"),
    ("SELECT campaign.id FROM campaign_criterion WHERE campaign_criterion.type IN ('LOCATION', 'USERLIST')",
     "BAD_ENUM_CONSTANT"),
    ("SELECT campaign.id, segments.conversion_action, metrics.clicks FROM campaign",
     "PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE"),
])
def test_the_fake_refuses_queries_the_api_refuses(rig: Rig, query: str, code: str) -> None:
    with pytest.raises(GoogleAdsException) as raised:
        _search(rig, query)
    assert [error_code_name(e) for e in raised.value.failure.errors] == [("query_error", code)]


def test_every_query_the_connector_sends_is_valid_v26_gaql(rig: Rig) -> None:
    queries = [reports.CUSTOMER, reports.CAMPAIGNS, reports.AD_GROUPS, reports.ADS, reports.KEYWORDS,
               reports.SHARED_SETS, reports.CAMPAIGN_SHARED_SETS, reports.SHARED_CRITERIA, campaign_criteria.QUERY,
               reports.ad_group_metrics(START, END), reports.ad_metrics(START, END),
               reports.search_term_report(START, END)]
    assert [check_query(q) for q in queries] == [None] * len(queries)
    connector = rig.connector()  # and through the SDK, against the checking fake
    assert connector.entities("acme-us")
    assert list(connector.daily_metrics("acme-us", START, END))
    assert list(connector.search_terms("acme-us", START, END))


# -- responsive search ads ----------------------------------------------------------------------

@pytest.mark.parametrize(("change", "words"), [
    ({"headlines": ["Fresh beans", "Roasted today"]}, "3 to 15 headlines, got 2"),
    ({"headlines": [f"Headline {n}" for n in range(16)]}, "3 to 15 headlines, got 16"),
    ({"descriptions": ["Order by noon."]}, "2 to 4 descriptions, got 1"),
    ({"headlines": ["Fresh beans", "Roasted today", "Single-origin beans roasted daily"]}, "over Google's 30"),
    ({"descriptions": ["Order by noon.", "x" * 91]}, "over Google's 90"),
    ({"headlines": ["新鮮なコーヒー豆を毎日焙煎しています", "Roasted today", "Free delivery"]}, "over Google's 30"),
])
def test_rsa_limits_are_checked_before_sending(rig: Rig, change: dict[str, Any], words: str) -> None:
    connector = rig.connector()
    ad_group = next(e.entity_id for e in connector.entities("acme-us") if e.level == "ad_set")
    rig.fake.traffic.reset()
    result = connector.apply("acme-us", [Mutation("new_ad", "acme-us", ad_group, {**RSA, **change}, "k1")])[0]
    assert not result.ok and words in str(result.error)
    assert rig.fake.traffic.count("mutate:") == 0


def test_the_fake_enforces_rsa_limits_with_the_api_error_codes(rig: Rig) -> None:
    connector = rig.connector()
    ad_group = next(e.entity_id for e in connector.entities("acme-us") if e.level == "ad_set")
    transport = GoogleAdsTransport({"developer_token": TOKEN}, rig.fake.channel_factory())
    client = transport.client
    operation = client.get_type("AdGroupAdOperation")
    operation.create.ad_group = f"customers/{CUSTOMER}/adGroups/{ad_group}"
    operation.create.ad.final_urls.append("https://shop.example/")
    for text in ("Only", "Two"):
        asset = client.get_type("AdTextAsset")
        asset.text = text
        operation.create.ad.responsive_search_ad.headlines.append(asset)
    response = transport.service("AdGroupAdService").mutate_ad_group_ads(
        request={"customer_id": CUSTOMER, "operations": [operation], "partial_failure": True})
    failure = type(client.get_type("GoogleAdsFailure")).deserialize(response.partial_failure_error.details[0].value)
    assert [error_code_name(e) for e in failure.errors] == [("collection_size_error", "TOO_FEW")]


def test_a_valid_rsa_is_created(rig: Rig) -> None:
    connector = rig.connector()
    ad_group = next(e.entity_id for e in connector.entities("acme-us") if e.level == "ad_set")
    assert connector.apply("acme-us", [Mutation("new_ad", "acme-us", ad_group, RSA, "k2")])[0].ok


# -- login-customer-id --------------------------------------------------------------------------

def test_an_account_under_a_manager_is_refused_without_login_customer_id(rig: Rig) -> None:
    rig.fake.managers[CUSTOMER] = MANAGER
    with pytest.raises(PlatformAuthError, match="login-customer-id"):
        rig.connector().accounts()


def test_the_manager_named_in_the_config_is_sent_as_login_customer_id(rig: Rig) -> None:
    rig.fake.managers[CUSTOMER] = MANAGER
    config = parse_config({"database_url": "sqlite://", "accounts": [{
        "id": "acme-us", "platform": "google_ads", "platform_account_id": "123-456-7890",
        "credentials": {"developer_token": TOKEN, "login_customer_id": "111-222-3333"}}]}, environ={})
    context = ConnectorContext(
        platform="google_ads", settings={}, database_url="sqlite://", now=FixedClock.at_day(TODAY, hour=12).now,
        accounts=[account_as_mapping(a) for a in config.accounts],
        options=ConnectorOptions(tuning=(GoogleAdsOptions(channel_factory=rig.fake.channel_factory()),)))
    connector = GoogleAdsConnector.from_context(context)
    assert connector.accounts()[0].currency == "USD" and connector.entities("acme-us")


# -- shared budgets -----------------------------------------------------------------------------

def test_a_shared_budget_is_read_with_the_number_of_campaigns_using_it(rig: Rig) -> None:
    campaigns = sorted(e.entity_id for e in rig.simulator.entities("g-us") if e.level == "campaign")
    rig.fake.shared_budgets.update(campaigns[:2])
    read = {e.entity_id: e for e in rig.connector().entities("acme-us") if e.level == "campaign"}
    shared = [read[str(rig.fake.ids.numeric(c))] for c in campaigns[:2]]
    alone = read[str(rig.fake.ids.numeric(campaigns[2]))]
    assert [(e.attributes["budget_shared"], e.attributes["budget_campaigns"]) for e in shared] == [(True, 2)] * 2
    assert (alone.attributes["budget_shared"], alone.attributes["budget_campaigns"]) == (False, 1)
    assert shared[0].attributes["budget_resource"] == shared[1].attributes["budget_resource"]
