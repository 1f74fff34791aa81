"""LinkedIn `new_ad` against the local fake LinkedIn API: `creatives?action=createInline` with a
dark post of the company page, PAUSED, and what happens when it cannot be made or an answer is lost."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions
from connectors.records import Entity, Mutation
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
TOKEN = "AQV-linkedin-new-ads-token"
ORGANIZATION = "2414183"
KEY = "fedcba9876543210fedcba9876543210"
COPY = {"headline": "The 2027 B2B benchmark report", "description": "See how 400 teams plan their pipeline.",
        "status": "PAUSED", "name": "offline copy: benchmark report", "call_to_action": "DOWNLOAD"}


@dataclass
class Rig:
    fake: FakeLinkedIn
    simulator: SimulatorConnector

    def connector(self, new_ads: dict[str, str] | None = None) -> LinkedInConnector:
        account: dict[str, Any] = {"id": "acme-b2b", "platform_account_id": "5001", "timezone": "Europe/London",
                                   "credentials": {"access_token": TOKEN}}
        if new_ads is not None:
            account["new_ads"] = new_ads
        context = ConnectorContext(
            platform="linkedin", settings={}, database_url="sqlite://", now=FixedClock.at_day(TODAY, hour=12).now,
            accounts=[account], options=ConnectorOptions(
                retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(1)), tuning=(LinkedInOptions(base_url=self.fake.url, timeout=5.0),)))
        return LinkedInConnector.from_context(context)

    def creates(self) -> list[Any]:
        return [body for kind, _path, body in self.fake.log if kind == "post:creatives:createInline"]

    def sim_ads(self, campaign: str) -> dict[str, Entity]:
        sim_id = str(self.fake.ids.sim(campaign))
        return {e.entity_id: e for e in self.simulator.entities("l-uk") if e.parent_id == sim_id}


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("l-uk", "linkedin", "B2B UK", "GBP", "Europe/London", 1, 2, 2)],
                               clock.now)
    with FakeLinkedIn(SimBackend(simulator, {"5001": "l-uk"}), access_token=TOKEN,
                      organizations=[ORGANIZATION]) as fake:
        yield Rig(fake, simulator)


def _campaign(connector: LinkedInConnector) -> str:
    return next(e.entity_id for e in connector.entities("acme-b2b") if e.level == "ad_set")


def test_new_ad_creates_a_paused_creative_with_an_inline_dark_post(rig: Rig) -> None:
    connector = rig.connector({"linkedin_organization": f"urn:li:organization:{ORGANIZATION}",
                               "landing_url": "https://acme.example/report"})
    campaign = _campaign(connector)
    before = set(rig.sim_ads(campaign))

    [result] = connector.apply("acme-b2b", [Mutation("new_ad", "acme-b2b", campaign, COPY, KEY)])

    assert result.ok and not result.already_applied, result.error
    assert rig.creates() == [{"creative": {
        "campaign": f"urn:li:sponsoredCampaign:{campaign}",
        "intendedStatus": "PAUSED",
        "name": "offline copy: benchmark report [pma:fedcba9876543210]",
        "inlineContent": {"post": {
            "author": f"urn:li:organization:{ORGANIZATION}",
            "commentary": "See how 400 teams plan their pipeline.",
            "visibility": "PUBLIC", "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False,
            "distribution": {"feedDistribution": "NONE", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "adContext": {"dscAdAccount": "urn:li:sponsoredAccount:5001", "dscStatus": "ACTIVE"},
            "content": {"article": {"source": "https://acme.example/report",
                                    "title": "The 2027 B2B benchmark report"}},
            "contentCallToActionLabel": "DOWNLOAD", "contentLandingPage": "https://acme.example/report",
        }},
    }}]
    [new] = [e for sim_id, e in rig.sim_ads(campaign).items() if sim_id not in before]
    assert (new.status, new.attributes["headline"], new.attributes["introductory_text"]) == (
        "PAUSED", COPY["headline"], COPY["description"])
    assert result.platform_ref == str(rig.fake.ids.numeric(new.entity_id))  # read from x-restli-id
    # The connector reads it back as a paused creative of that campaign.
    creative = next(e for e in connector.entities("acme-b2b") if e.entity_id == result.platform_ref)
    assert (creative.level, creative.parent_id, creative.status) == ("ad", campaign, "PAUSED")
    assert connector.applied_keys("acme-b2b", [KEY, "0" * 32]) == {KEY}


@pytest.mark.parametrize(("new_ads", "params", "message"), [
    ({"landing_url": "https://acme.example/"}, COPY, "set accounts[].new_ads.linkedin_organization"),
    ({"linkedin_organization": ORGANIZATION}, COPY, "set accounts[].new_ads.landing_url"),
    ({"linkedin_organization": ORGANIZATION, "landing_url": "https://acme.example/"}, {**COPY, "status": "ACTIVE"},
     "created PAUSED on LinkedIn"),
])
def test_a_new_ad_linkedin_cannot_make_fails_alone_and_the_rest_goes_on(
        rig: Rig, new_ads: dict[str, str], params: dict[str, Any], message: str) -> None:
    connector = rig.connector(new_ads)
    campaign = _campaign(connector)
    new_ad, pause = connector.apply("acme-b2b", [Mutation("new_ad", "acme-b2b", campaign, params, KEY),
                                                 Mutation("pause", "acme-b2b", campaign, {}, "k-pause")])
    assert not new_ad.ok and message in str(new_ad.error) and campaign in str(new_ad.error)
    assert pause.ok and rig.creates() == []
    assert rig.simulator.entities("l-uk", [str(rig.fake.ids.sim(campaign))])[0].status == "PAUSED"


def test_a_refused_post_author_fails_the_new_ad_with_linkedins_message(rig: Rig) -> None:
    connector = rig.connector({"linkedin_organization": "999", "landing_url": "https://acme.example/"})
    [result] = connector.apply("acme-b2b", [Mutation("new_ad", "acme-b2b", _campaign(connector), COPY, KEY)])
    assert not result.ok and "HTTP 403" in str(result.error) and "urn:li:organization:999" in str(result.error)


def test_a_repeated_new_ad_is_found_by_its_tag_not_created_twice(rig: Rig) -> None:
    connector = rig.connector({"linkedin_organization": ORGANIZATION, "landing_url": "https://acme.example/"})
    campaign = _campaign(connector)
    [first] = connector.apply("acme-b2b", [Mutation("new_ad", "acme-b2b", campaign, COPY, KEY)])
    count = len(rig.sim_ads(campaign))
    [again] = connector.apply("acme-b2b", [Mutation("new_ad", "acme-b2b", campaign, COPY, KEY)])
    assert again.ok and again.already_applied and again.platform_ref == first.platform_ref
    assert len(rig.creates()) == 1 and len(rig.sim_ads(campaign)) == count


def test_a_lost_answer_is_never_sent_again_and_its_tag_settles_it(rig: Rig) -> None:
    connector = rig.connector({"linkedin_organization": ORGANIZATION, "landing_url": "https://acme.example/"})
    campaign = _campaign(connector)
    before = len(rig.sim_ads(campaign))
    rig.fake.faults.inject("lost_answer", "post:creatives:createInline")  # created, then answered 504
    rig.fake.traffic.reset()
    [result] = connector.apply("acme-b2b", [Mutation("new_ad", "acme-b2b", campaign, COPY, KEY)])
    assert not result.ok and result.outcome_unknown, result
    assert len(rig.creates()) == 1 and len(rig.sim_ads(campaign)) == before + 1
    assert connector.applied_keys("acme-b2b", [KEY]) == {KEY}
