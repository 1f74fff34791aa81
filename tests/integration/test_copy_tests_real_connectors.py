"""Copy tests through the real connectors (Google Ads, Meta, LinkedIn SDKs and HTTP) against the
fake platform servers, all backed by one simulated world that moves with the agent's clock: the
draft is created paused, found again in the next pull by its copy, launched with the platform's own
status write (Google: the ad group ad ENABLED next to the incumbent; Meta: the ad ACTIVE in its ad
set; LinkedIn: the creative's intendedStatus ACTIVE in its campaign), and the test ends with the
loser paused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle.run import run_cycle
from agent.experiments.copy_test_store import copy_tests_since
from agent.storage import store
from agent.storage.action_states import create_action, list_actions, transition
from policies.base import Proposal
from tests.fakes.google_ads_server import FakeGoogleAds
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator
from tests.integration.test_real_connectors_e2e import (
    LINKEDIN_ORGANIZATION,
    META_PAGE,
    SPECS,
    TODAY,
    Platforms,
    connectors_for,
)

SIM_ACCOUNT = {"acme-search": "sim-search", "acme-social": "sim-social", "acme-b2b": "sim-b2b"}


def copy_test_config(database_url: str) -> AgentConfig:
    return parse_config({
        "database_url": database_url,
        "initial_history_days": 28,
        "defaults": {"permissions": {"new_ad": "auto", "enable": "auto", "pause": "auto"},
                     "guardrails": {"max_actions_per_cycle": 50},
                     "copywriter": {"low_ctr_ratio": 0.99, "low_ctr_min_impressions": 0, "max_ad_sets_per_cycle": 1,
                                    "max_proposals_per_ad_set": 1}},
        "experiments": {"holdout_share": {}, "copy_tests": {"max_days": 5, "min_impressions": 200, "min_days": 2,
                                                            "final_z": 0}},
        "accounts": [
            {"id": "acme-search", "platform": "google_ads", "currency": "USD", "timezone": "America/New_York",
             "credentials": {"developer_token": "${GADS_DEV_TOKEN}", "customer_id": "123-456-7890"}},
            {"id": "acme-social", "platform": "meta", "currency": "EUR", "timezone": "Europe/Berlin",
             "credentials": {"access_token": "${META_TOKEN}", "app_secret": "s3cret", "ad_account_id": "act_555"},
             "new_ads": {"meta_page_id": META_PAGE, "landing_url": "https://acme.example/shop"}},
            {"id": "acme-b2b", "platform": "linkedin", "currency": "GBP", "timezone": "Europe/London",
             "credentials": {"access_token": "${LINKEDIN_TOKEN}", "ad_account_id": "5001"},
             "new_ads": {"linkedin_organization": f"urn:li:organization:{LINKEDIN_ORGANIZATION}",
                         "landing_url": "https://acme.example/b2b"}},
        ],
    }, environ={"GADS_DEV_TOKEN": "dev-token", "META_TOKEN": "meta-token", "LINKEDIN_TOKEN": "li-token"})


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock.at_day(TODAY, hour=12)


@pytest.fixture
def moving_platforms(engine: Engine, clock: FixedClock) -> Iterator[Platforms]:
    """The three fake platforms over one simulated world that sees the test's clock."""
    simulator = make_simulator(SPECS, clock.now, engine=engine, seed=11, history_days=40)
    with FakeGoogleAds(SimBackend(simulator, {"1234567890": "sim-search"}), developer_token="dev-token") as google, \
            FakeMeta(SimBackend(simulator, {"act_555": "sim-social"}), access_token="meta-token",
                     page_ids=[META_PAGE]) as meta, \
            FakeLinkedIn(SimBackend(simulator, {"5001": "sim-b2b"}), access_token="li-token",
                         organizations=[LINKEDIN_ORGANIZATION]) as linkedin:
        meta.backend.lock = linkedin.backend.lock = google.backend.lock
        yield Platforms(simulator, google, meta, linkedin)


def queue_linkedin_draft(engine: Engine, clock: FixedClock) -> None:
    """An approved copy draft for the LinkedIn account, whose creatives show no text to learn from (so
    the copywriter drafts nothing there itself), shaped as the copywriter shapes one."""
    with engine.connect() as connection:
        ad_set = next(e for e in store.load_entities(connection, "acme-b2b").values()
                      if e.level == "ad_set" and e.status == "ACTIVE")
    draft = Proposal(kind="new_ad", policy="copywriter", account_id="acme-b2b", entity_id=ad_set.entity_id,
                     entity_level="ad_set", entity_name=ad_set.name, rationale="new copy",
                     change={"from": {}, "to": {"headline": "Plan 2027 with real benchmarks", "status": "PAUSED",
                                                "description": "400 B2B teams, one report. Get it free.",
                                                "name": "offline copy: Plan 2027 with real benchmarks"}},
                     evidence={"predicted_ctr": {"ctr": 0.006, "interval": [0.004, 0.009], "interval_level": 0.8}})
    now = clock.now()
    with engine.begin() as connection:
        action_id = create_action(connection, draft, cycle_id=None, permission="auto", dry_run=False, now=now,
                                  key_salt="copy-test")
        transition(connection, action_id, "approved", actor="gate", reason="approved", now=now)


def test_copy_tests_launch_and_end_through_every_platform(engine: Engine, database_url: str, clock: FixedClock,
                                                          moving_platforms: Platforms) -> None:
    config = copy_test_config(database_url)
    connectors = connectors_for(config, clock, moving_platforms)
    run_cycle(engine, config, connectors, clock, dry_run=True)  # the entities, stored
    queue_linkedin_draft(engine, clock)
    for _ in range(9):
        summary = run_cycle(engine, config, connectors, clock)
        assert summary.accounts_failed == 0 and summary.execution["failed"] == 0, summary.as_dict()
        clock.advance(timedelta(days=1))
    with engine.connect() as connection:
        tests = copy_tests_since(connection)
        ours = [a for a in list_actions(connection) if a["policy"] == "copy_test"]
    launched = {t["account_id"] for t in tests if t["status"] in ("running", "concluding", "ended")}
    assert launched == set(SIM_ACCOUNT), [(t["account_id"], t["status"], t["reason"]) for t in tests]
    log = moving_platforms.simulator.mutation_log()
    for account_id, sim_account in SIM_ACCOUNT.items():
        # each launch went over the wire once, as the platform's own status write
        executed = [a for a in ours if a["kind"] == "enable" and a["account_id"] == account_id]
        assert executed and {a["state"] for a in executed} == {"executed"}
        assert len([m for m in log if m["kind"] == "enable" and m["account_id"] == sim_account]) == len(executed)
    for test in tests:
        if test["status"] in ("running", "concluding", "ended"):
            live = {e.entity_id: e for e in connectors[config.account(test["account_id"]).platform]
                    .entities(test["account_id"])}
            winner = test["winner_ad_id"] or test["challenger_ad_id"]
            assert live[winner].status == "ACTIVE"  # read back through the platform's API
            if test["status"] == "ended":
                assert live[test["loser_ad_id"]].status == "PAUSED"
    ended = [t for t in tests if t["status"] == "ended"]
    assert ended, [(t["account_id"], t["status"], t["counts"]) for t in tests]
    for test in ended:
        pauses = [a for a in ours if a["kind"] == "pause" and a["entity_id"] == test["loser_ad_id"]]
        assert [a["state"] for a in pauses] == ["executed"]
    traffic = (moving_platforms.google.traffic, moving_platforms.meta.traffic, moving_platforms.linkedin.traffic)
    assert [t.violations for t in traffic] == [0, 0, 0]  # within each platform's request limits
