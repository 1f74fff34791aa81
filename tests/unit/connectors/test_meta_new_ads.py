"""Meta `new_ad` through the real facebook-business SDK against the local fake Graph API: an
AdCreative (a link post of the account's Page) then a PAUSED Ad, and what happens when it cannot
be made or when an answer is lost."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs

import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.records import Mutation
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
TOKEN = "EAAB-new-ads-token"
PAGE = "100200300"
KEY = "0123456789abcdef0123456789abcdef"
COPY = {"headline": "Winter boots, 20% off", "description": "Warm, waterproof, made to last.",
        "status": "PAUSED", "name": "offline copy: Winter boots", "call_to_action": "SHOP_NOW"}


@dataclass
class Rig:
    fake: FakeMeta
    simulator: SimulatorConnector

    def connector(self, new_ads: dict[str, str] | None = None) -> MetaConnector:
        account: dict[str, Any] = {"id": "shop-de", "platform_account_id": "act_555",
                                   "credentials": {"access_token": TOKEN}}
        if new_ads is not None:
            account["new_ads"] = new_ads
        context = ConnectorContext(
            platform="meta", accounts=[account], settings={}, database_url="sqlite://",
            now=FixedClock.at_day(TODAY, hour=12).now,
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(1)),
                                     tuning=(MetaOptions(graph_url=self.fake.url, timeout=5.0),)))
        return MetaConnector.from_context(context)

    def batches(self) -> list[list[dict[str, Any]]]:
        """The calls of every batch request sent, decoded as Graph reads them."""
        sent = []
        for kind, _path, params in self.fake.log:
            if kind == "post:batch":
                calls = json.loads(params["batch"])
                for call in calls:
                    call["params"] = {k: v[-1] for k, v in parse_qs(call.get("body", "")).items()}
                sent.append(calls)
        return sent

    def sim_ads(self, ad_set: str) -> dict[str, Any]:
        return {e.entity_id: e for e in self.simulator.entities("m-de") if e.parent_id == ad_set}


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("m-de", "meta", "Social DE", "EUR", "Europe/Berlin", 1, 2, 2)],
                               clock.now)
    with FakeMeta(SimBackend(simulator, {"act_555": "m-de"}), access_token=TOKEN, page_ids=[PAGE]) as fake:
        yield Rig(fake, simulator)


def _ad_set(connector: MetaConnector) -> str:
    return next(e.entity_id for e in connector.entities("shop-de") if e.level == "ad_set")


def test_new_ad_sends_a_page_link_creative_then_a_paused_ad(rig: Rig) -> None:
    connector = rig.connector({"meta_page_id": PAGE, "landing_url": "https://shop.example/boots"})
    ad_set = _ad_set(connector)
    sim_ad_set = rig.fake.ids.sim(ad_set)
    before = set(rig.sim_ads(str(sim_ad_set)))
    rig.fake.log.clear()

    [result] = connector.apply("shop-de", [Mutation("new_ad", "shop-de", ad_set, COPY, KEY)])

    assert result.ok and not result.already_applied, result.error
    first, second = rig.batches()
    [creative] = first
    assert creative["relative_url"] == "act_555/adcreatives"
    assert creative["params"]["name"] == "offline copy: Winter boots [pma:0123456789abcdef]"
    assert json.loads(creative["params"]["object_story_spec"]) == {
        "page_id": PAGE,
        "link_data": {"link": "https://shop.example/boots", "message": "Warm, waterproof, made to last.",
                      "name": "Winter boots, 20% off",
                      "call_to_action": {"type": "SHOP_NOW", "value": {"link": "https://shop.example/boots"}}}}
    [ad] = second
    assert ad["relative_url"] == "act_555/ads"
    assert ad["params"]["status"] == "PAUSED"
    assert ad["params"]["adset_id"] == ad_set
    assert ad["params"]["name"] == "offline copy: Winter boots [pma:0123456789abcdef]"
    creative_id = json.loads(ad["params"]["creative"])["creative_id"]
    assert rig.fake.creatives[creative_id]["page_id"] == PAGE
    # The simulated world has one new ad, paused, with the copy; the result names it.
    [new] = [e for sim_id, e in rig.sim_ads(str(sim_ad_set)).items() if sim_id not in before]
    assert (new.status, new.attributes["headline"], new.attributes["primary_text"]) == (
        "PAUSED", "Winter boots, 20% off", "Warm, waterproof, made to last.")
    assert result.platform_ref == str(rig.fake.ids.numeric(new.entity_id))
    assert connector.applied_keys("shop-de", [KEY, "f" * 32]) == {KEY}


def test_the_proposal_link_wins_over_the_configured_landing_url(rig: Rig) -> None:
    connector = rig.connector({"meta_page_id": PAGE, "landing_url": "https://shop.example/"})
    params = {**COPY, "final_urls": ["https://shop.example/winter"]}
    del params["call_to_action"]
    [result] = connector.apply("shop-de", [Mutation("new_ad", "shop-de", _ad_set(connector), params, KEY)])
    assert result.ok, result.error
    spec = json.loads(rig.batches()[0][0]["params"]["object_story_spec"])
    assert spec["link_data"] == {"link": "https://shop.example/winter", "message": COPY["description"],
                                 "name": COPY["headline"]}


@pytest.mark.parametrize(("new_ads", "params", "message"), [
    ({"landing_url": "https://shop.example/"}, COPY, "set accounts[].new_ads.meta_page_id"),
    ({"meta_page_id": PAGE}, COPY, "set accounts[].new_ads.landing_url"),
    ({"meta_page_id": PAGE, "landing_url": "https://shop.example/"}, {**COPY, "status": "ACTIVE"},
     "created PAUSED on Meta"),
    ({"meta_page_id": PAGE, "landing_url": "https://shop.example/"}, {**COPY, "headline": ""},
     "needs a headline and a description"),
])
def test_a_new_ad_meta_cannot_make_fails_alone_and_the_batch_goes_on(
        rig: Rig, new_ads: dict[str, str], params: dict[str, Any], message: str) -> None:
    connector = rig.connector(new_ads)
    ad_set = _ad_set(connector)
    rig.fake.log.clear()
    new_ad, pause = connector.apply("shop-de", [Mutation("new_ad", "shop-de", ad_set, params, KEY),
                                                Mutation("pause", "shop-de", ad_set, {}, "k-pause")])
    assert not new_ad.ok and message in str(new_ad.error) and ad_set in str(new_ad.error)
    assert pause.ok
    assert [[call["relative_url"].rstrip("/") for call in batch] for batch in rig.batches()] == [[ad_set]]  # no create
    assert rig.simulator.entities("m-de", [str(rig.fake.ids.sim(ad_set))])[0].status == "PAUSED"


def test_a_refused_creative_fails_its_new_ad_with_metas_message(rig: Rig) -> None:
    connector = rig.connector({"meta_page_id": "999", "landing_url": "https://shop.example/"})  # not our Page
    [result] = connector.apply("shop-de", [Mutation("new_ad", "shop-de", _ad_set(connector), COPY, KEY)])
    assert not result.ok and "(100/1885183)" in str(result.error) and "page_id" in str(result.error)
    assert rig.fake.traffic.counts["batch:ads"] == 0


def test_a_repeated_new_ad_is_found_by_its_tag_not_created_twice(rig: Rig) -> None:
    connector = rig.connector({"meta_page_id": PAGE, "landing_url": "https://shop.example/"})
    ad_set = _ad_set(connector)
    [first] = connector.apply("shop-de", [Mutation("new_ad", "shop-de", ad_set, COPY, KEY)])
    ads_after_first = len(rig.sim_ads(str(rig.fake.ids.sim(ad_set))))
    rig.fake.traffic.reset()
    [again] = connector.apply("shop-de", [Mutation("new_ad", "shop-de", ad_set, COPY, KEY)])
    assert again.ok and again.already_applied and again.platform_ref == first.platform_ref
    assert rig.fake.traffic.counts["post:batch"] == 0
    assert len(rig.sim_ads(str(rig.fake.ids.sim(ad_set)))) == ads_after_first


def test_a_lost_answer_is_never_sent_again_and_its_tag_settles_it(rig: Rig) -> None:
    connector = rig.connector({"meta_page_id": PAGE, "landing_url": "https://shop.example/"})
    ad_set = _ad_set(connector)
    before = len(rig.sim_ads(str(rig.fake.ids.sim(ad_set))))
    rig.fake.faults.inject("lost_answer", "batch:ads")  # Meta creates the ad, the answer never arrives
    rig.fake.traffic.reset()
    [result] = connector.apply("shop-de", [Mutation("new_ad", "shop-de", ad_set, COPY, KEY)])
    assert not result.ok and result.outcome_unknown, result
    assert len(rig.sim_ads(str(rig.fake.ids.sim(ad_set)))) == before + 1
    assert rig.fake.traffic.counts["batch:ads"] == 1
    assert connector.applied_keys("shop-de", [KEY]) == {KEY}
