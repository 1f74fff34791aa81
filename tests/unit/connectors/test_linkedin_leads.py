"""Lead gen form leads as conversions, through the LinkedIn connector against the fake REST API."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions
from connectors.linkedin.leads import LeadCampaigns
from connectors.linkedin.spec import LinkedInAccountSpec
from connectors.records import Entity, MetricRow
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 9), date(2026, 11, 22)
TOKEN = "li-token"


@dataclass
class Rig:
    fake: FakeLinkedIn
    simulator: SimulatorConnector
    lead_ad_set: Entity

    def connector(self, **account: Any) -> LinkedInConnector:
        context = ConnectorContext(
            platform="linkedin", settings={}, database_url="sqlite://", now=FixedClock.at_day(TODAY, hour=12).now,
            accounts=[{"id": "acme-b2b", "timezone": "UTC", "platform_account_id": "5001",
                       "credentials": {"access_token": TOKEN}, **account}],
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(1)),
                                     tuning=(LinkedInOptions(base_url=self.fake.url, timeout=5.0),)))
        return LinkedInConnector.from_context(context)

    def truth(self, lead: bool, level: str = "ad_set") -> list[MetricRow]:
        ads = {e.entity_id: e.parent_id for e in self.simulator.entities("l-uk") if e.level == "ad"}
        return [m for m in self.simulator.daily_metrics("l-uk", START, END) if m.level == level
                and ((m.entity_id if level == "ad_set" else ads[m.entity_id]) == self.lead_ad_set.entity_id) == lead]

    def pulled(self, rows: list[MetricRow], truth: list[MetricRow]) -> list[MetricRow]:
        ids = {str(self.fake.ids.numeric(m.entity_id)) for m in truth}
        return [r for r in rows if r.entity_id in ids and r.level == truth[0].level]


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("l-uk", "linkedin", "B2B UK", "GBP", "UTC", 2, 2, 2)], clock.now)
    with FakeLinkedIn(SimBackend(simulator, {"5001": "l-uk"}), access_token=TOKEN) as fake:
        ad_set = next(e for e in simulator.entities("l-uk") if e.level == "ad_set")
        fake.lead_gen_campaigns.add(ad_set.entity_id)
        yield Rig(fake, simulator, ad_set)


def _total(rows: list[MetricRow]) -> float:
    return sum(r.conversions for r in rows)


def test_a_lead_gen_campaign_counts_its_form_leads_with_no_value(rig: Rig) -> None:
    connector = rig.connector()
    entities = {e.entity_id: e for e in connector.entities("acme-b2b")}
    assert entities[str(rig.fake.ids.numeric(rig.lead_ad_set.entity_id))].attributes["objective"] == "LEAD_GENERATION"
    rig.fake.traffic.reset()
    rows = list(connector.daily_metrics("acme-b2b", START, END))
    for level in ("ad_set", "ad"):
        leads, website = rig.truth(True, level), rig.truth(False, level)
        assert _total(leads) > 0 and _total(rig.pulled(rows, leads)) == _total(leads)
        assert all(r.conversion_value == 0 for r in rig.pulled(rows, leads))  # lead forms carry no value
        assert _total(rig.pulled(rows, website)) == _total(website)
        assert sum(r.conversion_value for r in rig.pulled(rows, website)) == sum(m.conversion_value for m in website)
    # the leads come with the analytics already asked for: no other request, no lead's answers read
    assert rig.fake.traffic.counts == {"get:adAnalytics:CAMPAIGN": 1, "get:adAnalytics:CREATIVE": 1}
    assert all("oneClickLeads" in params["fields"] for kind, _, params in rig.fake.log if "adAnalytics" in kind)
    assert not any("leadFormResponses" in path for _, path, _ in rig.fake.log)


def test_without_a_structure_read_the_objectives_cost_two_finder_requests(rig: Rig) -> None:
    connector = rig.connector()
    connector.accounts()
    rig.fake.traffic.reset()
    rows = list(connector.daily_metrics("acme-b2b", START, END))
    assert _total(rig.pulled(rows, rig.truth(True))) == _total(rig.truth(True)) > 0
    assert rig.fake.traffic.counts == {"get:adAnalytics:CAMPAIGN": 1, "get:adAnalytics:CREATIVE": 1,
                                       "get:adCampaigns": 1, "get:creatives": 1}
    rig.fake.traffic.reset()
    list(connector.daily_metrics("acme-b2b", START, END))  # known now: objectives do not change
    assert rig.fake.traffic.counts == {"get:adAnalytics:CAMPAIGN": 1, "get:adAnalytics:CREATIVE": 1}


@pytest.mark.parametrize(("event", "lead_counted", "website_counted"), [("lead", True, False),
                                                                         ("website", False, True)])
def test_a_named_conversion_event_applies_to_every_campaign_with_no_extra_request(
        rig: Rig, event: str, lead_counted: bool, website_counted: bool) -> None:
    connector = rig.connector(conversion_event=event)
    connector.accounts()
    rig.fake.traffic.reset()
    rows = list(connector.daily_metrics("acme-b2b", START, END))
    leads, website = rig.truth(True), rig.truth(False)
    assert _total(rig.pulled(rows, leads)) == (_total(leads) if lead_counted else 0)
    assert _total(rig.pulled(rows, website)) == (_total(website) if website_counted else 0)
    assert set(rig.fake.traffic.counts) == {"get:adAnalytics:CAMPAIGN", "get:adAnalytics:CREATIVE"}


def test_the_spec_names_the_conversion_events() -> None:
    assert LinkedInAccountSpec(id="a", conversion_event="lead").conversion_event == "lead"
    with pytest.raises(ValidationError, match="neither website"):
        LinkedInAccountSpec(id="a", conversion_event="leads")
    assert LinkedInAccountSpec(id="a").conversion_event is None  # by campaign objective


def test_reported_ids_the_finders_do_not_return_are_not_read_for_again() -> None:
    structure = LeadCampaigns.of(
        [{"id": 1, "objectiveType": "LEAD_GENERATION"}, {"id": 3, "objectiveType": "WEBSITE_VISITS"}],
        [{"id": "urn:li:sponsoredCreative:5", "campaign": "urn:li:sponsoredCampaign:1"}])
    assert not structure.covers(["1", "2"], ["5", "6"])
    settled = structure.settled(["1", "2"], ["5", "6"])
    assert settled.covers(["1", "2"], ["5", "6"])
    assert settled.counts_leads(None, "ad_set", "1") and settled.counts_leads(None, "ad", "5")
    assert not any(settled.counts_leads(None, level, i) for level, i in (("ad_set", "2"), ("ad_set", "3"),
                                                                         ("ad", "6")))
    assert settled.counts_leads("lead", "ad_set", "3") and not settled.counts_leads("website", "ad_set", "1")
