"""Lead ad leads as conversions, through the Meta connector (real SDK) against the fake Graph API."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from agent.clock import FixedClock
from connectors.connector_options import ConnectorOptions
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.meta.conversions import Conversions
from connectors.meta.records import metric_row
from connectors.records import Entity, MetricRow
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
START, END = date(2026, 11, 9), date(2026, 11, 22)
TOKEN = "meta-token"


@dataclass
class Rig:
    fake: FakeMeta
    simulator: SimulatorConnector
    lead_campaign: str

    def connector(self, **account: Any) -> MetaConnector:
        credentials = {"access_token": TOKEN, "app_id": "1234", "app_secret": "app-secret", "ad_account_id": "act_555"}
        context = ConnectorContext(
            platform="meta", settings={}, database_url="sqlite://", now=FixedClock.at_day(TODAY, hour=12).now,
            accounts=[{"id": "acme", "credentials": credentials, **account}],
            options=ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(1)),
                                     tuning=(MetaOptions(graph_url=self.fake.url, poll_interval=0.0, timeout=5.0),)))
        return MetaConnector.from_context(context)

    def ad_sets(self, lead: bool) -> list[Entity]:
        return [e for e in self.simulator.entities("m-de")
                if e.level == "ad_set" and (e.parent_id == self.lead_campaign) == lead]

    def truth(self, ad_sets: list[Entity]) -> list[MetricRow]:
        ids = {e.entity_id for e in ad_sets}
        return [m for m in self.simulator.daily_metrics("m-de", START, END) if m.entity_id in ids]

    def pulled(self, rows: list[MetricRow], ad_sets: list[Entity]) -> list[MetricRow]:
        ids = {str(self.fake.ids.numeric(e.entity_id)) for e in ad_sets}
        return [r for r in rows if r.level == "ad_set" and r.entity_id in ids]


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator([SimAccountSpec("m-de", "meta", "Social DE", "EUR", "Europe/Berlin", 2, 2, 2)],
                               clock.now)
    with FakeMeta(SimBackend(simulator, {"act_555": "m-de"}), access_token=TOKEN) as fake:
        campaign = next(e.entity_id for e in simulator.entities("m-de") if e.level == "campaign")
        fake.lead_campaigns.add(campaign)
        yield Rig(fake, simulator, campaign)


def test_a_lead_ad_campaign_counts_its_leads_once_with_no_value(rig: Rig) -> None:
    rows = list(rig.connector().daily_metrics("acme", START, END))
    lead_sets, sales_sets = rig.ad_sets(lead=True), rig.ad_sets(lead=False)
    leads, truth = rig.pulled(rows, lead_sets), rig.truth(lead_sets)
    expected = sum(m.conversions for m in truth)
    assert expected > 0 and sum(r.conversions for r in leads) == pytest.approx(expected)
    assert all(r.conversion_value == 0 for r in leads)  # instant forms carry no value: stored as 0
    sales, sales_truth = rig.pulled(rows, sales_sets), rig.truth(sales_sets)
    assert sum(r.conversions for r in sales) == pytest.approx(sum(m.conversions for m in sales_truth))
    assert sum(r.conversion_value for r in sales) == sum(m.conversion_value for m in sales_truth) > 0
    # the objective comes with the insights rows: no other request
    assert any("objective" in str(params.get("fields", "")) for _, path, params in rig.fake.log if "insights" in path)


def test_an_account_that_names_its_event_counts_it_in_every_campaign(rig: Rig) -> None:
    rows = list(rig.connector(conversion_event="purchase").daily_metrics("acme", START, END))
    assert sum(r.conversions for r in rig.pulled(rows, rig.ad_sets(lead=True))) == 0
    rows = list(rig.connector(conversion_event="lead").daily_metrics("acme", START, END))
    leads = rig.pulled(rows, rig.ad_sets(lead=True))
    assert sum(r.conversions for r in leads) == pytest.approx(sum(m.conversions for m in rig.truth(rig.ad_sets(True))))


def test_lead_action_types_are_not_summed() -> None:
    raw = {"adset_id": "7", "date_start": "2026-11-20", "spend": "40.00", "objective": "OUTCOME_LEADS",
           "actions": [{"action_type": "lead", "value": "5"}, {"action_type": "onsite_conversion.lead_grouped",
                                                                "value": "5"},
                       {"action_type": "leadgen_grouped", "value": "5"}]}
    row = metric_row(raw, "acme", "EUR", "ad_set", Conversions())
    assert (row.conversions, row.conversion_value) == (5.0, Decimal(0))
    forms_only = {**raw, "actions": raw["actions"][1:]}  # no total: the instant-form part, once
    assert metric_row(forms_only, "acme", "EUR", "ad_set", Conversions()).conversions == 5.0
    sales = {**raw, "objective": "OUTCOME_SALES"}
    assert metric_row(sales, "acme", "EUR", "ad_set", Conversions()).conversions == 0.0
