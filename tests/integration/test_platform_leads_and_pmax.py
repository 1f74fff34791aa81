"""Leads the platforms hold and Performance Max delivery, pulled by a cycle through the real
connectors (and SDKs) against the fake platform servers, stored, and read back as the policies
and reports read them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from agent.bootstrap import account_as_mapping
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle.run import run_cycle
from agent.decisions.snapshots import load_snapshot
from agent.storage import store
from agent.storage.action_states import list_actions
from connectors.base import Connector
from connectors.connector_options import ConnectorOptions
from connectors.google_ads import pmax
from connectors.google_ads.connector import GoogleAdsConnector, GoogleAdsOptions
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.records import MetricRow
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from policies.base import Snapshot
from policies.budget_holders import budget_holders
from policies.pacing import pacing_report
from policies.settings import PacingSettings
from tests.fakes.google_ads_server import FakeGoogleAds
from tests.fakes.google_pmax import PmaxCampaign, PmaxDay
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
SPECS = [
    SimAccountSpec("sim-search", "google_ads", "Acme Search", "USD", "America/New_York", 2, 2, 2),
    SimAccountSpec("sim-social", "meta", "Acme Social", "EUR", "Europe/Berlin", 2, 2, 2),
    SimAccountSpec("sim-b2b", "linkedin", "Acme B2B", "GBP", "UTC", 2, 2, 2),
]
PMAX_ID = 20_000_000_001
PMAX_DAILY_SPEND = Decimal("200.00")


def agent_config(database_url: str) -> AgentConfig:
    return parse_config({
        "database_url": database_url, "initial_history_days": 28,
        "defaults": {"permissions": {"pause": "auto", "set_budget": "auto"}},
        "accounts": [
            {"id": "acme-search", "platform": "google_ads", "currency": "USD", "timezone": "America/New_York",
             "monthly_budget": "30000", "credentials": {"developer_token": "dev", "customer_id": "1234567890"}},
            {"id": "acme-social", "platform": "meta", "currency": "EUR", "timezone": "Europe/Berlin",
             "credentials": {"access_token": "meta-token", "app_secret": "s", "ad_account_id": "act_555"}},
            {"id": "acme-b2b", "platform": "linkedin", "currency": "GBP", "timezone": "UTC",
             "credentials": {"access_token": "li-token", "ad_account_id": "5001"}},
        ],
    }, environ={})


@dataclass
class World:
    simulator: SimulatorConnector
    google: FakeGoogleAds
    meta: FakeMeta
    linkedin: FakeLinkedIn
    meta_lead_campaign: str
    linkedin_lead_ad_set: str
    pmax: PmaxCampaign

    def connectors(self, config: AgentConfig, clock: FixedClock) -> dict[str, Connector]:
        options = ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(0)), tuning=(
            GoogleAdsOptions(channel_factory=self.google.channel_factory()),
            MetaOptions(graph_url=self.meta.url, poll_interval=0.0), LinkedInOptions(base_url=self.linkedin.url)))
        classes: dict[str, Any] = {"google_ads": GoogleAdsConnector, "meta": MetaConnector,
                                   "linkedin": LinkedInConnector}
        return {platform: factory.from_context(ConnectorContext(
            platform=platform, settings={}, database_url=config.database_url.get_secret_value(), now=clock.now,
            options=options, accounts=[account_as_mapping(a) for a in config.accounts if a.platform == platform]))
            for platform, factory in classes.items()}


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator(SPECS, clock.now, engine=engine, seed=11, history_days=40)
    with FakeGoogleAds(SimBackend(simulator, {"1234567890": "sim-search"}), developer_token="dev") as google, \
            FakeMeta(SimBackend(simulator, {"act_555": "sim-social"}), access_token="meta-token") as meta, \
            FakeLinkedIn(SimBackend(simulator, {"5001": "sim-b2b"}), access_token="li-token") as linkedin:
        meta.backend.lock = linkedin.backend.lock = google.backend.lock
        meta_campaign = next(e.entity_id for e in simulator.entities("sim-social") if e.level == "campaign")
        meta.lead_campaigns.add(meta_campaign)
        linkedin_ad_set = next(e.entity_id for e in simulator.entities("sim-b2b") if e.level == "ad_set")
        linkedin.lead_gen_campaigns.add(linkedin_ad_set)
        campaign = google.pmax.add("1234567890", PmaxCampaign(PMAX_ID, "PMax Acme", Decimal("210.00")))
        for offset in range(1, 41):
            campaign.days[TODAY - timedelta(days=offset)] = PmaxDay(PMAX_DAILY_SPEND, 5000, 120, 1.0, Decimal("10"))  # far below any target
        yield World(simulator, google, meta, linkedin, meta_campaign, linkedin_ad_set, campaign)


def _stored(engine: Engine, account_id: str, start: date, end: date) -> dict[str, list[MetricRow]]:
    with engine.connect() as connection:
        return store.load_daily_metrics(connection, account_id, start, end)


def _truth(world: World, account: str, ad_sets: set[str], start: date, end: date) -> list[MetricRow]:
    return [m for m in world.simulator.daily_metrics(account, start, end)
            if m.level == "ad_set" and m.entity_id in ad_sets]


def test_lead_form_and_lead_ad_leads_are_stored_as_conversions(engine: Engine, database_url: str,
                                                               world: World) -> None:
    config = agent_config(database_url)
    clock = FixedClock.at_day(TODAY, hour=12)
    summary = run_cycle(engine, config, world.connectors(config, clock), clock)
    assert summary.accounts_failed == 0, summary.errors
    start, end = TODAY - timedelta(days=28), TODAY - timedelta(days=1)

    # LinkedIn: the lead gen campaign's form leads are its conversions; no value is stored as 0
    linkedin_id = str(world.linkedin.ids.numeric(world.linkedin_lead_ad_set))
    stored = [r for r in _stored(engine, "acme-b2b", start, end)[linkedin_id] if r.level == "ad_set"]
    truth = _truth(world, "sim-b2b", {world.linkedin_lead_ad_set}, start, end)
    assert sum(r.conversions for r in stored) == sum(m.conversions for m in truth) > 0
    assert all(r.conversion_value == 0 for r in stored)

    # Meta: the lead ad campaign's ad sets count leads (once each), the account's default is purchases
    lead_sets = {e.entity_id for e in world.simulator.entities("sim-social")
                 if e.level == "ad_set" and e.parent_id == world.meta_lead_campaign}
    meta_rows = _stored(engine, "acme-social", start, end)
    stored = [r for s in lead_sets for r in meta_rows[str(world.meta.ids.numeric(s))] if r.level == "ad_set"]
    truth = _truth(world, "sim-social", lead_sets, start, end)
    assert sum(r.conversions for r in stored) == pytest.approx(sum(m.conversions for m in truth))
    assert sum(m.conversions for m in truth) > 0 and all(r.conversion_value == 0 for r in stored)


def _without_pmax(snapshot: Snapshot) -> Snapshot:
    stand_in = pmax.ad_set_id(str(PMAX_ID))
    return snapshot.replaced(entities={k: e for k, e in snapshot.entities.items()
                                       if k not in (stand_in, str(PMAX_ID))},
                             daily={k: rows for k, rows in snapshot.daily.items() if k != stand_in})


def test_pmax_spend_is_in_the_account_totals_and_the_pacing_projection(engine: Engine, database_url: str,
                                                                       world: World) -> None:
    config = agent_config(database_url)
    clock = FixedClock.at_day(TODAY, hour=12)
    summary = run_cycle(engine, config, world.connectors(config, clock), clock)
    assert summary.accounts_failed == 0, summary.errors
    month_start, yesterday = TODAY.replace(day=1), TODAY - timedelta(days=1)

    rows = [r for rs in _stored(engine, "acme-search", month_start, yesterday).values() for r in rs
            if r.level == "ad_set"]
    search = sum(m.spend for m in world.simulator.daily_metrics("sim-search", month_start, yesterday)
                 if m.level == "ad_set")
    pmax_month = PMAX_DAILY_SPEND * (yesterday - month_start + timedelta(days=1)).days
    assert sum(r.spend for r in rows) == search + pmax_month  # the account's month-to-date total

    account = next(a for a in config.accounts if a.id == "acme-search")
    snapshot = load_snapshot(engine, account, TODAY, clock)
    with_pmax, without = pacing_report(snapshot, PacingSettings()), pacing_report(_without_pmax(snapshot),
                                                                                  PacingSettings())
    assert with_pmax is not None and without is not None
    assert with_pmax.spent_to_date - without.spent_to_date == pmax_month
    remaining = with_pmax.projected_month_end_spend - with_pmax.spent_to_date
    assert remaining - (without.projected_month_end_spend - without.spent_to_date) > 0  # PMax keeps spending
    holders = {h.entity_id: h.ad_set_ids for h in budget_holders(snapshot)}
    assert holders[str(PMAX_ID)] == (pmax.ad_set_id(str(PMAX_ID)),)  # its campaign budget is paced

    # No policy acts on the stand-in ad set: nothing proposed or executed on it
    stand_in = pmax.ad_set_id(str(PMAX_ID))
    with engine.connect() as connection:
        actions = list_actions(connection, accounts=["acme-search"])
    assert not [a for a in actions if a["entity_id"] == stand_in]
