"""One agent cycle over Google Ads, Meta and LinkedIn accounts through the real connectors (and the
real SDKs), against the fake platform servers, all backed by one simulated world.

What the agent executes must show up in the simulator (the platforms' truth), and the number of
requests each platform saw must stay what the connectors promise.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from agent.approvals.decisions import decide_action
from agent.bootstrap import account_as_mapping
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle.run import run_cycle
from agent.execution.executor import execute_approved
from agent.storage import store
from agent.storage.action_states import create_action, get_action, list_actions, transition
from connectors.base import Connector
from connectors.connector_options import ConnectorOptions
from connectors.google_ads.connector import GoogleAdsConnector, GoogleAdsOptions
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.records import MUTATION_KINDS, Entity, Mutation, quantize_money
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from policies.base import Proposal
from policies.budget_plan import plan_of
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
META_PAGE = "100200300"
LINKEDIN_ORGANIZATION = "2414183"


def agent_config(database_url: str, permissions: dict[str, str] | None = None) -> AgentConfig:
    permissions = permissions if permissions is not None else {"pause": "auto", "set_budget": "auto"}
    return parse_config({
        "database_url": database_url,
        "initial_history_days": 28,
        "defaults": {"permissions": permissions, "guardrails": {"max_actions_per_cycle": 50}},
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
            FakeMeta(SimBackend(simulator, {"act_555": "sim-social"}), access_token="meta-token",
                     page_ids=[META_PAGE]) as meta, \
            FakeLinkedIn(SimBackend(simulator, {"5001": "sim-b2b"}), access_token="li-token",
                         organizations=[LINKEDIN_ORGANIZATION]) as linkedin:
        # One lock for the one world: the three fakes share a simulator.
        meta.backend.lock = linkedin.backend.lock = google.backend.lock
        yield Platforms(simulator, google, meta, linkedin)


def connectors_for(config: AgentConfig, clock: FixedClock, platforms: Platforms) -> dict[str, Connector]:
    options = ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(0)), tuning=(
        GoogleAdsOptions(channel_factory=platforms.google.channel_factory()),
        MetaOptions(graph_url=platforms.meta.url), LinkedInOptions(base_url=platforms.linkedin.url)))
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
    # locations, ad schedules and user lists: one campaign_criterion query per entity read (as shared sets)
    assert google.counts["search:campaign_criterion"] == google.counts["search:shared_set"] >= 1
    insights = [params for kind, _, params in platforms.meta.log if kind == "get:insights" and not params.get("after")]
    assert sum(1 for params in insights if not params.get("breakdowns")) == 2
    assert linkedin.counts["get:adAnalytics:CAMPAIGN"] == 1 and linkedin.counts["get:adAnalytics:CREATIVE"] == 1
    # Breakdowns (docs/segments.md): one report per account and breakdown; long ones page
    assert sum(1 for params in insights if params.get("breakdowns")) == 4
    assert google.counts["search:age_range_view"] == google.counts["search:geographic_view"] == 1
    assert sum(n for kind, n in linkedin.counts.items() if "MEMBER_" in kind) == 4
    # Writes: at most one mutate request per account and service; Meta in one batch.
    google_mutates = {kind: n for kind, n in google.counts.items() if kind.startswith("mutate:")}
    assert google_mutates and set(google_mutates.values()) == {1}
    assert meta.counts["post:batch"] == 1
    linkedin_changes = sum(1 for row in log if row["account_id"] == "sim-b2b")
    assert linkedin.count("post:") == linkedin_changes  # one PARTIAL_UPDATE per change
    assert google.violations == meta.violations == linkedin.violations == 0


# -- every action kind, through approval --------------------------------------------------------

EVERY_KIND = {  # what each platform's connector can execute
    "acme-search": ("pause", "enable", "set_budget", "add_negative_keywords", "new_ad"),
    "acme-social": ("pause", "enable", "set_budget", "exclude_audience", "new_ad"),
    "acme-b2b": ("pause", "enable", "set_budget", "exclude_audience", "new_ad"),
}
SIM_ACCOUNT = {"acme-search": "sim-search", "acme-social": "sim-social", "acme-b2b": "sim-b2b"}


def _made_up(kind: str, entity: Entity, connector: Connector) -> Proposal:
    """A proposal for a kind no policy proposed on this data, shaped the way the policies shape it."""
    change: dict[str, Any]
    if kind == "enable":
        change = {"from": {"status": "PAUSED"}, "to": {"status": "ACTIVE"}}
    elif kind == "pause":
        change = {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}
    elif kind == "exclude_audience":
        excluded = list(entity.attributes.get("excluded_audience_ids", []))
        targeted = {*entity.attributes.get("audience_ids", []), *excluded}
        audience = next(a.audience_id for a in connector.audiences(entity.account_id) if a.audience_id not in targeted)
        change = {"from": {"excluded_audience_ids": excluded}, "to": {"excluded_audience_id": audience}}
    elif kind == "set_budget":
        assert entity.daily_budget is not None
        lower = quantize_money(entity.daily_budget * Decimal("0.9"), entity.currency)
        change = {"from": {"daily_budget": str(entity.daily_budget)}, "to": {"daily_budget": str(lower)}}
    elif kind == "new_ad":
        change = {"from": {}, "to": {"headline": "Plan 2027 with real benchmarks", "status": "PAUSED",
                                     "description": "400 B2B teams, one report. Get it free.",
                                     "name": "test copy: benchmarks"}}
    else:
        raise AssertionError(f"no made-up proposal for {kind}")
    return Proposal(kind=kind, policy="test", account_id=entity.account_id, entity_id=entity.entity_id,
                    entity_level=entity.level, entity_name=entity.name, change=change, rationale=f"test {kind}")


def _target(kind: str, entities: dict[str, Entity], used: set[str]) -> Entity:
    if kind == "set_budget":  # the last budget holder: the policies' own proposals favour the first ones
        return [e for e in entities.values()
                if e.daily_budget is not None and e.status == "ACTIVE" and e.entity_id not in used][-1]
    wanted_status = "PAUSED" if kind == "enable" else "ACTIVE"
    level = "ad" if kind == "enable" else "ad_set"
    return next(e for e in entities.values()
                if e.level == level and e.status == wanted_status and e.entity_id not in used)


def _queue_one_of_each_kind(engine: Engine, config: AgentConfig, connectors: dict[str, Connector],
                            clock: FixedClock) -> dict[int, tuple[str, str]]:
    """Approve one action per (account, kind): the cycle's own proposal where it made one, else a
    proposal recorded and queued the way the gate queues one. Returns {action id: (account, kind)}."""
    chosen: dict[int, tuple[str, str]] = {}
    with engine.connect() as connection:
        pending = list_actions(connection, "pending_approval")
    for account_id, kinds in EVERY_KIND.items():
        with engine.connect() as connection:
            entities = store.load_entities(connection, account_id)
        used: set[str] = set()  # one change per entity, so no guardrail cooldown holds a second one
        for kind in kinds:
            # a leg of a budget plan runs only with its plan's other legs: not one on its own
            natural = next((a for a in pending if a["account_id"] == account_id and a["kind"] == kind
                            and a["entity_id"] not in used and plan_of(a["evidence"]) is None), None)
            if natural is not None:
                action_id = int(natural["id"])
            else:
                connector = connectors[config.account(account_id).platform]
                proposal = _made_up(kind, _target(kind, entities, used), connector)
                with engine.begin() as connection:
                    action_id = create_action(connection, proposal, cycle_id=None, permission="propose",
                                              dry_run=False, now=clock.now(), key_salt="e2e")
                    transition(connection, action_id, "pending_approval", actor="gate", reason="queued",
                               now=clock.now(), expires_at=clock.now() + timedelta(hours=24))
            with engine.connect() as connection:
                used.add(str(get_action(connection, action_id)["entity_id"]))  # type: ignore[index]
            outcome = decide_action(engine, action_id, "approve", approver="e2e", channel="test", now=clock.now())
            assert outcome.ok, outcome.message
            chosen[action_id] = (account_id, kind)
    return chosen


def _ads_per_ad_set(simulator: SimulatorConnector) -> Counter[str]:
    return Counter(str(e.parent_id) for account in SIM_ACCOUNT.values() for e in simulator.entities(account)
                   if e.level == "ad")


def test_every_action_kind_runs_through_approval_and_the_real_connectors_once(
        engine: Engine, database_url: str, platforms: Platforms) -> None:
    simulator = platforms.simulator
    # Outside the agent, someone paused one ad per account: something for `enable` to act on.
    for sim_account in SIM_ACCOUNT.values():
        ad = next(e for e in simulator.entities(sim_account) if e.level == "ad")
        assert simulator.apply(sim_account, [Mutation("pause", sim_account, ad.entity_id, {}, f"setup-{ad.entity_id}")])[0].ok
    baseline = len(simulator.mutation_log())
    config = agent_config(database_url, permissions={kind: "propose" for kind in MUTATION_KINDS})
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = connectors_for(config, clock, platforms)

    summary = run_cycle(engine, config, connectors, clock)  # pull, propose, gate: everything waits for a person
    assert summary.accounts_failed == 0 and summary.execution.get("executed", 0) == 0, summary.as_dict()
    chosen = _queue_one_of_each_kind(engine, config, connectors, clock)
    ads_before = _ads_per_ad_set(simulator)
    for fake in (platforms.google, platforms.meta, platforms.linkedin):
        fake.traffic.reset()

    report = execute_approved(engine, connectors, config, clock)

    assert report.outcomes == Counter({"executed": 15}), report.outcomes
    with engine.connect() as connection:
        actions = {a["id"]: a for a in list_actions(connection)}
    for action_id, (account_id, kind) in chosen.items():
        assert actions[action_id]["state"] == "executed", (account_id, kind, actions[action_id])
        assert actions[action_id]["result"]["platform_ref"], (account_id, kind)
    # The world changed once per action, in the way each kind says.
    log = simulator.mutation_log()[baseline:]
    for account_id, kinds in EVERY_KIND.items():
        applied = Counter(row["kind"] for row in log if row["account_id"] == SIM_ACCOUNT[account_id])
        assert set(applied) == set(kinds), (account_id, applied)
        assert all(n == 1 for kind, n in applied.items() if kind != "add_negative_keywords"), (account_id, applied)
    for row in log:
        live = {e.entity_id: e for e in simulator.entities(row["account_id"])}
        entity, kind, params = live[row["entity_id"]], row["kind"], row["params"]
        if kind in ("pause", "enable"):
            assert entity.status == ("PAUSED" if kind == "pause" else "ACTIVE"), row
        elif kind == "set_budget":
            assert entity.daily_budget == Decimal(params["daily_budget"]), row
        elif kind == "exclude_audience":
            assert params["audience_id"] in entity.attributes["excluded_audience_ids"], row
        elif kind == "add_negative_keywords":
            negatives = {k["text"] for k in entity.attributes["negative_keywords"]}
            assert {k["text"] for k in params["keywords"]} <= negatives, row
        else:
            new_ad = live[params["new_ad_id"]]
            headline = (params.get("headlines") or [params.get("headline")])[0]
            assert (new_ad.parent_id, new_ad.status, new_ad.attributes["headline"]) == (
                entity.entity_id, "PAUSED", headline), row
    ads_after = _ads_per_ad_set(simulator)
    assert sum(ads_after.values()) - sum(ads_before.values()) == 3  # one new ad per account, no duplicate

    # Requests: Google one mutate per service; Meta updates + creatives in one batch, the ads in a
    # second, each well under 50 calls; LinkedIn one request per change.
    google, meta, linkedin = platforms.google.traffic, platforms.meta.traffic, platforms.linkedin.traffic
    google_mutates = {kind: n for kind, n in google.counts.items() if kind.startswith("mutate:")}
    assert google_mutates == {f"mutate:{service}": 1 for service in (
        "AdGroupService", "AdGroupAdService", "CampaignBudgetService",  # pause, enable + new ad, budget
        "SharedSetService", "SharedCriterionService", "CampaignSharedSetService")}, google_mutates  # negatives
    assert meta.counts["post:batch"] == 2
    assert meta.count("batch:") == 4 + 1 + 1  # four updates and a creative, then the ad
    assert (meta.counts["batch:adcreatives"], meta.counts["batch:ads"]) == (1, 1)
    assert linkedin.count("post:") == 5 and linkedin.counts["post:creatives:createInline"] == 1

    # Executing again executes nothing and sends nothing.
    for fake in (platforms.google, platforms.meta, platforms.linkedin):
        fake.traffic.reset()
    again = execute_approved(engine, connectors, config, clock)
    assert again.outcomes.get("executed", 0) == 0 and again.mutating_calls == 0
    assert len(simulator.mutation_log()) == baseline + len(log)
    assert google.count("mutate:") == meta.count("post:") == linkedin.count("post:") == 0
