"""The Google Ads connector, through the real google-ads SDK, against the in-process fake gRPC server."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from google.ads.googleads.v26.services.types.google_ads_service import GoogleAdsRow

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.errors import PlatformAuthError, PlatformRateLimited, PlatformRequestError
from connectors.google_ads.connector import GoogleAdsConnector, GoogleAdsOptions
from connectors.google_ads.reports import metric_row, micros_to_money, money_to_micros, value_to_money
from connectors.records import Mutation
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.google_ads_server import FakeGoogleAds
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 16), date(2026, 11, 22)
DEVELOPER_TOKEN = "dev-token-SECRET-123"
REFRESH_TOKEN = "1//refresh-SECRET-456"


@dataclass
class Rig:
    fake: FakeGoogleAds
    simulator: SimulatorConnector
    sleeps: list[float]

    def connector(self, **options: Any) -> GoogleAdsConnector:
        accounts = [
            {"id": "acme-us", "name": "Acme US", "credentials": {
                "developer_token": DEVELOPER_TOKEN, "customer_id": "123-456-7890", "login_customer_id": "111-222-3333"}},
            {"id": "acme-jp", "name": "Acme JP", "credentials": {
                "developer_token": DEVELOPER_TOKEN, "customer_id": "1234567891"}},
        ]
        context = ConnectorContext(
            platform="google_ads", accounts=accounts, settings={}, database_url="sqlite://",
            now=FixedClock.at_day(TODAY, hour=12).now,
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=self.sleeps.append, rng=random.Random(1)), tuning=(replace(
                GoogleAdsOptions(channel_factory=self.fake.channel_factory()), **options),)))
        return GoogleAdsConnector.from_context(context)


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    specs = [SimAccountSpec("g-us", "google_ads", "Search US", "USD", "America/New_York", 2, 2, 2),
             SimAccountSpec("g-jp", "google_ads", "Search JP", "JPY", "Asia/Tokyo", 2, 2, 2)]
    simulator = make_simulator(specs, clock.now)
    backend = SimBackend(simulator, {"1234567890": "g-us", "1234567891": "g-jp"})
    with FakeGoogleAds(backend, developer_token=DEVELOPER_TOKEN, rows_per_message=10) as fake:
        yield Rig(fake, simulator, [])


# -- units at the edge ------------------------------------------------------------------------

def test_micros_and_values_convert_exactly() -> None:
    assert micros_to_money(12_345_678, "USD") == Decimal("12.345678")
    assert micros_to_money(1_500_000_000, "JPY") == Decimal("1500")
    assert value_to_money(99.99, "USD") == Decimal("99.99")
    assert money_to_micros(Decimal("12.34"), "USD") == 12_340_000
    assert money_to_micros(Decimal("1500"), "JPY") == 1_500_000_000
    with pytest.raises(ValueError, match="more decimals"):
        money_to_micros(Decimal("100.5"), "JPY")


def test_metric_row_is_parsed_by_hand() -> None:
    row = GoogleAdsRow()
    row.ad_group.id = 42
    row.campaign.id = 7
    row.segments.date = "2026-11-20"
    row.metrics.cost_micros = 2_500_000_000
    row.metrics.impressions = 1000
    row.metrics.clicks = 31
    row.metrics.conversions = 2.5
    row.metrics.conversions_value = 12345.0
    parsed = metric_row(row, "acme-jp", "JPY", "ad_set")
    assert (parsed.entity_id, parsed.day, parsed.spend, parsed.conversion_value) == (
        "42", date(2026, 11, 20), Decimal("2500"), Decimal("12345"))
    assert (parsed.impressions, parsed.clicks, parsed.conversions, parsed.currency) == (1000, 31, 2.5, "JPY")


# -- reads ------------------------------------------------------------------------------------

def test_reads_match_the_simulated_world(rig: Rig) -> None:
    connector = rig.connector()
    info = {a.account_id: a for a in connector.accounts()}
    assert (info["acme-jp"].currency, info["acme-jp"].timezone) == ("JPY", "Asia/Tokyo")
    rows = list(connector.daily_metrics("acme-jp", START, END))
    truth = [m for m in rig.simulator.daily_metrics("g-jp", START, END)]
    assert len(rows) == len(truth)
    for level in ("ad_set", "ad"):
        assert sum(r.spend for r in rows if r.level == level) == sum(m.spend for m in truth if m.level == level)
        assert sum(r.clicks for r in rows if r.level == level) == sum(m.clicks for m in truth if m.level == level)
    terms = list(connector.search_terms("acme-us", START, END))
    assert sum(t.spend for t in terms) == sum(t.spend for t in rig.simulator.search_terms("g-us", START, END))
    levels = {e.level for e in connector.entities("acme-us")}
    assert levels == {"campaign", "ad_set", "ad", "keyword"}


def test_one_report_request_per_report_however_many_stream_messages(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.traffic.reset()
    rows = list(connector.daily_metrics("acme-us", START, END))
    assert len(rows) > 10  # more than one stream message each
    # ad groups, ads, and Performance Max campaigns (campaign level)
    assert rig.fake.traffic.counts == {"search:ad_group": 1, "search:ad_group_ad": 1, "search:campaign": 1}
    list(connector.search_terms("acme-us", START, END))
    assert rig.fake.traffic.counts["search:search_term_view"] == 1


def test_parallel_reads_for_different_accounts_agree_with_sequential(rig: Rig) -> None:
    connector = rig.connector()
    sequential = {a: sorted(connector.daily_metrics(a, START, END), key=repr) for a in ("acme-us", "acme-jp")}
    with ThreadPoolExecutor(4) as pool:
        parallel = dict(zip(("acme-us", "acme-jp"), pool.map(
            lambda a: sorted(connector.daily_metrics(a, START, END), key=repr), ("acme-us", "acme-jp")), strict=True))
    assert parallel == sequential


# -- writes -----------------------------------------------------------------------------------

def _by_level(connector: GoogleAdsConnector, account: str, level: str) -> list[str]:
    return [e.entity_id for e in connector.entities(account) if e.level == level]


def test_one_mutate_request_per_service_and_the_world_changes(rig: Rig) -> None:
    connector = rig.connector()
    campaigns, ad_groups = _by_level(connector, "acme-us", "campaign"), _by_level(connector, "acme-us", "ad_set")
    mutations = [Mutation("pause", "acme-us", ad_group, {}, f"p{i}") for i, ad_group in enumerate(ad_groups[:3])]
    mutations += [Mutation("set_budget", "acme-us", campaign, {"daily_budget": "55.50"}, f"b{i}")
                  for i, campaign in enumerate(campaigns)]
    rig.fake.traffic.reset()
    results = connector.apply("acme-us", mutations)
    assert all(r.ok for r in results), results
    assert rig.fake.traffic.counts == {"mutate:AdGroupService": 1, "mutate:CampaignBudgetService": 1}
    live = {e.entity_id: e for e in connector.entities("acme-us")}
    assert [live[a].status for a in ad_groups[:3]] == ["PAUSED"] * 3
    assert {live[c].daily_budget for c in campaigns} == {Decimal("55.50")}
    assert sorted(m["kind"] for m in rig.simulator.mutation_log()) == ["pause"] * 3 + ["set_budget"] * 2


def test_partial_failure_is_decoded_per_operation(rig: Rig) -> None:
    connector = rig.connector()
    ad_groups = _by_level(connector, "acme-us", "ad_set")
    rig.fake.faults.inject("partial_failure", "mutate:AdGroupService", index=1)
    results = connector.apply("acme-us", [Mutation("pause", "acme-us", a, {}, f"k{i}")
                                          for i, a in enumerate(ad_groups[:3])])
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error is not None and "RESOURCE_NOT_FOUND: injected failure" in results[1].error
    assert results[0].platform_ref == f"customers/1234567890/adGroups/{ad_groups[0]}"


def test_negative_keywords_go_through_a_shared_set(rig: Rig) -> None:
    connector = rig.connector()
    campaign = _by_level(connector, "acme-us", "campaign")[0]
    keywords = [{"text": "free coffee", "match_type": "PHRASE"}, {"text": "coffee jobs", "match_type": "EXACT"}]
    results = connector.apply("acme-us", [Mutation("add_negative_keywords", "acme-us", campaign,
                                                   {"list_name": "agent-negatives", "keywords": keywords}, "n1")])
    assert results[0].ok and results[0].platform_ref and "/sharedSets/" in results[0].platform_ref
    for service in ("SharedSetService", "SharedCriterionService", "CampaignSharedSetService"):
        assert rig.fake.traffic.counts[f"mutate:{service}"] == 1
    live = {e.entity_id: e for e in connector.entities("acme-us")}
    assert {(n["text"], n["match_type"]) for n in live[campaign].attributes["negative_keywords"]} == {
        ("free coffee", "PHRASE"), ("coffee jobs", "EXACT")}
    # A second batch reuses the attached list: no new set, no new link.
    connector.apply("acme-us", [Mutation("add_negative_keywords", "acme-us", campaign, {
        "list_name": "agent-negatives", "keywords": [{"text": "cheap", "match_type": "BROAD"}]}, "n2")])
    assert rig.fake.traffic.counts["mutate:SharedSetService"] == 1
    assert rig.fake.traffic.counts["mutate:CampaignSharedSetService"] == 1
    assert rig.fake.traffic.counts["mutate:SharedCriterionService"] == 2


def test_new_ads_are_created_paused(rig: Rig) -> None:
    connector = rig.connector()
    ad_group = _by_level(connector, "acme-us", "ad_set")[0]
    result = connector.apply("acme-us", [Mutation("new_ad", "acme-us", ad_group, {
        "headlines": ["Fresh beans", "Roasted today", "Free delivery"],
        "descriptions": ["Order by noon, brew tomorrow.", "Single-origin beans, roasted in small batches."]}, "a1")])[0]
    assert result.ok and result.platform_ref
    new = [e for e in connector.entities("acme-us") if e.level == "ad" and result.platform_ref.endswith(e.entity_id)]
    assert [(e.status, e.attributes["headline"]) for e in new] == [("PAUSED", "Fresh beans")]


def test_two_new_ads_in_one_mutate_are_both_created_and_found_by_their_tags(rig: Rig) -> None:
    connector = rig.connector()
    ad_group = _by_level(connector, "acme-us", "ad_set")[0]
    keys = ["a" * 32, "b" * 32]
    results = connector.apply("acme-us", [Mutation("new_ad", "acme-us", ad_group, {
        "headlines": [f"Fresh beans {n}", "Roasted this week", "Free shipping"],
        "descriptions": ["Order by noon, brew tomorrow.", "Single origin, fair price."]}, key)
        for n, key in enumerate(keys)])
    assert [r.ok for r in results] == [True, True], results
    assert results[0].platform_ref != results[1].platform_ref
    assert rig.fake.traffic.counts["mutate:AdGroupAdService"] == 1
    assert connector.applied_keys("acme-us", [*keys, "c" * 32]) == set(keys)


def test_a_write_whose_answer_is_lost_is_not_sent_again(rig: Rig) -> None:
    connector = rig.connector()
    campaign = _by_level(connector, "acme-us", "campaign")[0]
    rig.fake.faults.inject("lost_answer", "mutate:CampaignService")  # applied, answered INTERNAL
    rig.fake.traffic.reset()
    [result] = connector.apply("acme-us", [Mutation("pause", "acme-us", campaign, {}, "p1")])
    assert not result.ok and result.outcome_unknown, result
    assert rig.fake.traffic.counts["mutate:CampaignService"] == 1 and rig.sleeps == []
    assert next(e for e in connector.entities("acme-us") if e.entity_id == campaign).status == "PAUSED"


def test_budgets_finer_than_the_currency_fail_before_any_request(rig: Rig) -> None:
    connector = rig.connector()
    campaign = _by_level(connector, "acme-jp", "campaign")[0]
    rig.fake.traffic.reset()
    result = connector.apply("acme-jp", [Mutation("set_budget", "acme-jp", campaign, {"daily_budget": "100.5"}, "j")])
    assert not result[0].ok and "JPY" in str(result[0].error)
    assert rig.fake.traffic.count("mutate:") == 0


def test_validate_only_changes_nothing(rig: Rig) -> None:
    connector = rig.connector()
    ad_group = _by_level(connector, "acme-us", "ad_set")[0]
    results = connector.validate("acme-us", [Mutation("pause", "acme-us", ad_group, {}, "v1")])
    assert results[0].ok
    sent = [request for kind, request in rig.fake.requests if kind == "mutate:AdGroupService"]
    assert sent[0].validate_only and sent[0].partial_failure
    assert rig.simulator.mutation_log() == []


# -- retries and failures ---------------------------------------------------------------------

def test_quota_error_waits_the_retry_delay_google_asks_for(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("rate_limit", "search:ad_group", retry_delay=7.5)
    rows = list(connector.daily_metrics("acme-us", START, END))
    assert rows and rig.sleeps == [7.5]
    assert rig.fake.traffic.counts["search:ad_group"] == 2


@pytest.mark.parametrize("fault", ["server_error", "unavailable", "timeout", "truncated_page"])
def test_transient_errors_are_retried_with_jittered_backoff(rig: Rig, fault: str) -> None:
    connector = rig.connector()
    clean = sorted(connector.daily_metrics("acme-us", START, END), key=repr)
    rig.fake.faults.inject(fault, "search:ad_group_ad", times=2)
    assert sorted(connector.daily_metrics("acme-us", START, END), key=repr) == clean
    assert len(rig.sleeps) == 2
    assert 0.5 <= rig.sleeps[0] <= 1.0 and 1.0 <= rig.sleeps[1] <= 2.0  # equal jitter on 1 s, 2 s


def test_rate_limits_give_up_within_the_budget(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("rate_limit", "search:ad_group", times=50, retry_delay=100)
    with pytest.raises(PlatformRateLimited, match="acme-us") as raised:
        list(connector.daily_metrics("acme-us", START, END))
    assert raised.value.retry_after == 100
    assert rig.sleeps == [100, 100, 100]  # a fourth wait would pass the 300 s budget


def test_auth_errors_fail_fast_naming_the_account_without_secrets(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    connector = rig.connector()
    rig.fake.faults.inject("auth", "search:customer")
    with pytest.raises(PlatformAuthError) as raised:
        connector.accounts()
    message = str(raised.value)
    assert "acme-us" in message and "OAUTH_TOKEN_INVALID" in message
    assert DEVELOPER_TOKEN not in message and REFRESH_TOKEN not in message
    assert rig.sleeps == [] and rig.fake.traffic.counts["search:customer"] == 1


def test_invalid_requests_fail_fast(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("invalid", "search:search_term_view")
    with pytest.raises(PlatformRequestError, match="acme-us.*INVALID_INPUT"):
        list(connector.search_terms("acme-us", START, END))
    assert rig.sleeps == []


def test_a_malformed_row_is_logged_and_skipped(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    connector = rig.connector()
    clean = list(connector.daily_metrics("acme-us", START, END))
    rig.fake.faults.inject("malformed_row", "search:ad_group")
    with caplog.at_level(logging.WARNING, logger="connectors.google_ads.reports"):
        rows = list(connector.daily_metrics("acme-us", START, END))
    assert len(rows) == len(clean) - 1
    assert any("acme-us" in r.getMessage() and "malformed" in r.getMessage() for r in caplog.records)
    assert not any(DEVELOPER_TOKEN in r.getMessage() for r in caplog.records)


def test_a_location_is_excluded_by_the_geo_target_constant_its_campaign_delivered_in(rig: Rig) -> None:
    connector = rig.connector()
    ad_group = next(e for e in connector.entities("acme-us") if e.level == "ad_set" and e.status == "ACTIVE")
    # names learnt elsewhere (other accounts' breakdowns) can make one slug two constants
    connector._geo_name_cache.update({"geoTargetConstants/999998": "Texas", "geoTargetConstants/999999": "Texas"})
    cut = {"dimension": "region", "segment": "texas", "excluded": True}
    [result] = connector.apply("acme-us", [Mutation("exclude_location", "acme-us", ad_group.entity_id, cut, "k1")])
    assert result.ok, result.error
    assert any(kind == "search:geographic_view" and "DURING LAST_30_DAYS" in query
               for kind, query in rig.fake.requests)  # the campaign's own regions decide
    [request] = [r for kind, r in rig.fake.requests if kind == "mutate:CampaignCriterionService"]
    constant = request.operations[0].create.location.geo_target_constant
    assert rig.fake.ids.sim(constant.rsplit("/", 1)[-1]) == "geo:texas"
    live = connector.entities("acme-us", [ad_group.entity_id])[0]
    assert live.attributes["excluded_segments"]["region"] == ["texas"]
    # a region the campaign never delivered in has no constant to name: refused, nothing sent
    nowhere = {"dimension": "region", "segment": "atlantis", "excluded": True}
    [refused] = connector.apply("acme-us", [Mutation("exclude_location", "acme-us", ad_group.entity_id, nowhere, "k2")])
    assert not refused.ok and "no geo target constant" in str(refused.error)
    assert len([kind for kind, _ in rig.fake.requests if kind == "mutate:CampaignCriterionService"]) == 1
