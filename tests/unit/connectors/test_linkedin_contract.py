"""The LinkedIn connector against a fake as strict as the real Marketing API: audiences a normal
app may read, an active version, daily quotas, statuses and campaign formats (issue 17)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import httpx
import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.errors import PlatformAuthError, PlatformRateLimited, PlatformRequestError
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions, OptionalReadUnavailable
from connectors.linkedin.reports import campaign_entity
from connectors.linkedin.transport import DEFAULT_VERSION
from connectors.records import Mutation
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.linkedin_server import ACTIVE_VERSIONS, FakeLinkedIn
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 16), date(2026, 11, 22)
TOKEN = "AQV-linkedin-contract-SECRET"
COPY = {"headline": "The 2027 B2B benchmark report", "description": "See how 400 teams plan their pipeline.",
        "status": "PAUSED", "name": "benchmark report"}


@dataclass
class Rig:
    fake: FakeLinkedIn
    simulator: SimulatorConnector
    sleeps: list[float]

    def connector(self, **options: Any) -> LinkedInConnector:
        context = ConnectorContext(
            platform="linkedin", settings={}, database_url="sqlite://", now=FixedClock.at_day(TODAY, hour=18).now,
            accounts=[{"id": "acme-b2b", "platform_account_id": "5001", "timezone": "UTC",
                       "credentials": {"access_token": TOKEN},
                       "new_ads": {"linkedin_organization": "2414183", "landing_url": "https://acme.example/b2b"}}],
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=self.sleeps.append, rng=random.Random(1)), tuning=(replace(
                LinkedInOptions(base_url=self.fake.url, timeout=5.0), **options),)))
        return LinkedInConnector.from_context(context)


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("l-uk", "linkedin", "B2B UK", "GBP", "UTC", 2, 2, 2)], clock.now)
    with FakeLinkedIn(SimBackend(simulator, {"5001": "l-uk"}), access_token=TOKEN) as fake:
        yield Rig(fake, simulator, [])


def test_audiences_are_ad_segments_a_normal_app_may_read(rig: Rig) -> None:
    # The fake app has no DMP permission: dmpSegments would answer 403, as LinkedIn does.
    connector = rig.connector()
    audiences = connector.audiences("acme-b2b")
    assert audiences and not any(kind == "get:dmpSegments" for kind, _, _ in rig.fake.log)
    # The ids are the numbers campaigns target (urn:li:adSegment:N), the sizes the segments' own.
    targeted = {a for e in connector.entities("acme-b2b") if e.level == "ad_set" for a in e.attributes["audience_ids"]}
    assert targeted and targeted <= {a.audience_id for a in audiences}
    truth = {rig.fake.ids.numeric(a.audience_id): a.estimated_size for a in rig.simulator.audiences("l-uk")}
    assert {int(a.audience_id): a.estimated_size for a in audiences} == truth


def test_the_fake_refuses_dmp_segments_without_the_permission(rig: Rig) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "LinkedIn-Version": DEFAULT_VERSION,
               "X-Restli-Protocol-Version": "2.0.0"}
    answer = httpx.get(f"{rig.fake.url}/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A5001",
                       headers=headers)
    assert answer.status_code == 403


def test_a_403_on_audiences_is_an_unavailable_enrichment_not_a_refused_token(rig: Rig) -> None:
    connector = rig.connector()
    rig.fake.faults.inject("forbidden", "get:adSegments")
    with pytest.raises(OptionalReadUnavailable) as raised:
        connector.audiences("acme-b2b")
    assert not isinstance(raised.value, PlatformAuthError)
    assert "overlap" in str(raised.value) and TOKEN not in str(raised.value) and rig.sleeps == []
    # The rest of the account's pull is unaffected.
    assert connector.entities("acme-b2b")
    assert list(connector.daily_metrics("acme-b2b", START, END))


def test_the_pinned_version_is_one_the_fake_knows_to_be_active() -> None:
    assert DEFAULT_VERSION in ACTIVE_VERSIONS


def test_a_refused_version_fails_at_once_naming_the_header_and_the_version(rig: Rig) -> None:
    connector = rig.connector(version="202611")  # never released: LinkedIn skipped it
    with pytest.raises(PlatformRequestError) as raised:
        connector.accounts()
    message = str(raised.value)
    assert "LinkedIn-Version: 202611" in message and "acme-b2b" in message and "not active" in message
    assert rig.sleeps == [] and rig.fake.traffic.counts == {"get:adAccounts": 1}


def test_a_daily_quota_429_fails_fast_saying_when_it_resets(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("daily_quota", "get:adAnalytics:CAMPAIGN", times=10)
    rig.fake.traffic.reset()
    with pytest.raises(PlatformRateLimited) as raised:
        list(connector.daily_metrics("acme-b2b", START, END))
    assert rig.sleeps == [] and rig.fake.traffic.counts == {"get:adAnalytics:CAMPAIGN": 1}
    assert "2026-11-24 00:00 UTC" in str(raised.value) and "acme-b2b" in str(raised.value)
    assert raised.value.retry_after == 6 * 3600  # the clock says 18:00 UTC


def test_a_short_429_with_retry_after_is_still_retried(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.faults.inject("rate_limit", "get:adAnalytics:CAMPAIGN", retry_after=7)
    assert list(connector.daily_metrics("acme-b2b", START, END)) and rig.sleeps == [7.0]


def test_pending_deletion_reads_as_removed() -> None:
    raw: dict[str, Any] = {"id": 7, "campaignGroup": "urn:li:sponsoredCampaignGroup:3", "name": "deleted draft",
                           "status": "PENDING_DELETION"}
    assert campaign_entity(raw, "acme-b2b", "GBP").status == "REMOVED"


def test_a_new_article_ad_in_an_image_campaign_is_refused_in_words(rig: Rig) -> None:
    connector = rig.connector()
    ad_set = next(e for e in rig.simulator.entities("l-uk") if e.level == "ad_set")
    rig.fake.campaign_formats[ad_set.entity_id] = "SINGLE_IMAGE"
    campaign = str(rig.fake.ids.numeric(ad_set.entity_id))
    result = connector.apply("acme-b2b", [Mutation("new_ad", "acme-b2b", campaign, COPY, "k" * 32)])[0]
    assert not result.ok and "SINGLE_IMAGE" in str(result.error) and "image" in str(result.error)
    assert not any(kind == "post:creatives:createInline" for kind, _, _ in rig.fake.log)
    other = next(e for e in rig.simulator.entities("l-uk") if e.level == "ad_set" and e.entity_id != ad_set.entity_id)
    assert connector.apply("acme-b2b", [Mutation("new_ad", "acme-b2b", str(rig.fake.ids.numeric(other.entity_id)),
                                                 COPY, "m" * 32)])[0].ok


def test_the_fake_enforces_the_campaign_format_on_create_inline(rig: Rig) -> None:
    ad_set = next(e for e in rig.simulator.entities("l-uk") if e.level == "ad_set")
    rig.fake.campaign_formats[ad_set.entity_id] = "SINGLE_IMAGE"
    connector = rig.connector()
    connector.entities("acme-b2b")
    del rig.fake.campaign_formats[ad_set.entity_id]  # our read is now stale: the connector lets it through
    connector.entities("acme-b2b")
    rig.fake.campaign_formats[ad_set.entity_id] = "SINGLE_IMAGE"
    result = connector.apply("acme-b2b", [Mutation("new_ad", "acme-b2b", str(rig.fake.ids.numeric(ad_set.entity_id)),
                                                   COPY, "n" * 32)])[0]
    assert not result.ok and "format SINGLE_IMAGE" in str(result.error)
