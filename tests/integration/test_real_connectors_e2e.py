"""One agent cycle over Google Ads, Meta and LinkedIn accounts through the real connectors (and the
real SDKs), against the fake platform servers, all backed by one simulated world.

What the agent executes must show up in the simulator (the platforms' truth), and the number of
requests each platform saw must stay what the connectors promise.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle import account_as_mapping, run_cycle
from connectors.base import Connector
from connectors.google_ads import GoogleAdsConnector
from connectors.linkedin import LinkedInConnector
from connectors.meta import MetaConnector
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.google_ads_server import FakeGoogleAds
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator

TODAY = date(2026, 11, 23)
SPECS = [
    SimAccountSpec("sim-search", "google_ads", "Acme Search", "USD", "America/New_York", 2, 2, 2),
    SimAccountSpec("sim-social", "meta", "Acme Social", "EUR", "Europe/Berlin", 2, 2, 2),
    SimAccountSpec("sim-b2b", "linkedin", "Acme B2B", "GBP", "Europe/London", 2, 2, 2),
]


def agent_config(database_url: str) -> AgentConfig:
    auto = {"pause": "auto", "set_budget": "auto"}
    return parse_config({
        "database_url": database_url,
        "initial_history_days": 28,
        "defaults": {"permissions": auto, "guardrails": {"max_actions_per_cycle": 50}},
        "accounts": [
            {"id": "acme-search", "platform": "google_ads", "currency": "USD", "timezone": "America/New_York",
             "credentials": {"developer_token": "${GADS_DEV_TOKEN}", "customer_id": "123-456-7890"}},
            {"id": "acme-social", "platform": "meta", "currency": "EUR", "timezone": "Europe/Berlin",
             "credentials": {"access_token": "${META_TOKEN}", "app_secret": "s3cret", "ad_account_id": "act_555"}},
            {"id": "acme-b2b", "platform": "linkedin", "currency": "GBP", "timezone": "Europe/London",
             "credentials": {"access_token": "${LINKEDIN_TOKEN}", "ad_account_id": "5001"}},
        ],
    }, environ={"GADS_DEV_TOKEN": "dev-token", "META_TOKEN": "meta-token", "LINKEDIN_TOKEN": "li-token"})


@dataclass
class Platforms:
    simulator: SimulatorConnector
    google: FakeGoogleAds
    meta: FakeMeta
    linkedin: FakeLinkedIn


@pytest.fixture
def platforms(engine: Engine) -> Iterator[Platforms]:
    clock = FixedClock.at_day(TODAY, hour=12)
    simulator = make_simulator(SPECS, clock.now, engine=engine, seed=11, history_days=40)
    with FakeGoogleAds(SimBackend(simulator, {"1234567890": "sim-search"}), developer_token="dev-token") as google, \
            FakeMeta(SimBackend(simulator, {"act_555": "sim-social"}), access_token="meta-token") as meta, \
            FakeLinkedIn(SimBackend(simulator, {"5001": "sim-b2b"}), access_token="li-token") as linkedin:
        # One lock for the one world: the three fakes share a simulator.
        meta.backend.lock = linkedin.backend.lock = google.backend.lock
        yield Platforms(simulator, google, meta, linkedin)


def connectors_for(config: AgentConfig, clock: FixedClock, platforms: Platforms) -> dict[str, Connector]:
    options: dict[str, Any] = {
        "retry_policy": RetryPolicy(sleep=lambda _s: None, rng=random.Random(0)),
        "google_ads_channel_factory": platforms.google.channel_factory(),
        "meta_graph_url": platforms.meta.url,
        "linkedin_base_url": platforms.linkedin.url,
    }
    classes: dict[str, Any] = {"google_ads": GoogleAdsConnector, "meta": MetaConnector, "linkedin": LinkedInConnector}
    connectors: dict[str, Connector] = {}
    for platform, factory in classes.items():
        accounts = [account_as_mapping(a) for a in config.accounts if a.platform == platform]
        context = ConnectorContext(platform=platform, accounts=accounts, settings={},
                                   database_url=config.database_url.get_secret_value(), now=clock.now,
                                   options=options)
        connectors[platform] = factory.from_context(context)
    return connectors


def test_a_cycle_through_the_real_connectors_changes_the_world(engine: Engine, database_url: str,
                                                               platforms: Platforms) -> None:
    config = agent_config(database_url)
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = connectors_for(config, clock, platforms)
    summary = run_cycle(engine, config, connectors, clock)

    assert summary.accounts == 3 and summary.accounts_failed == 0, summary.errors
    assert summary.metric_rows_upserted > 0 and summary.search_term_rows_upserted > 0
    assert summary.execution["executed"] > 0, summary.as_dict()
    assert summary.execution["failed"] == 0, summary.as_dict()

    # The world changed the way the agent says it did.
    log = platforms.simulator.mutation_log()
    assert len(log) == summary.execution["executed"]
    assert {row["kind"] for row in log} <= {"pause", "set_budget"}
    assert {row["account_id"] for row in log} == {"sim-search", "sim-social", "sim-b2b"}
    for row in log:
        live = platforms.simulator.entities(row["account_id"], [row["entity_id"]])[0]
        if row["kind"] == "pause":
            assert live.status == "PAUSED"
        else:
            assert live.daily_budget == Decimal(row["params"]["daily_budget"])

    # Reads: one report request per account and report type (no paging at this size).
    google, meta, linkedin = platforms.google.traffic, platforms.meta.traffic, platforms.linkedin.traffic
    assert google.counts["search:search_term_view"] == 1
    assert google.counts["search:customer"] == 1
    assert meta.counts["get:insights"] == 2
    assert linkedin.counts["get:adAnalytics:CAMPAIGN"] == 1 and linkedin.counts["get:adAnalytics:CREATIVE"] == 1
    # Writes: at most one mutate request per account and service; Meta in one batch.
    google_mutates = {kind: n for kind, n in google.counts.items() if kind.startswith("mutate:")}
    assert google_mutates and set(google_mutates.values()) == {1}
    assert meta.counts["post:batch"] == 1
    linkedin_changes = sum(1 for row in log if row["account_id"] == "sim-b2b")
    assert linkedin.count("post:") == linkedin_changes  # one PARTIAL_UPDATE per change
    assert google.violations == meta.violations == linkedin.violations == 0
