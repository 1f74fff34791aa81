"""Prospecting campaigns exclude the existing-customer audience (docs/segments.md), end to end: a Meta
account through the real SDK against the wire-level fake, backed by the simulator. Nothing is proposed
before the audience sync has put members on the platform; once it has, each active prospecting ad set
excludes the audience through the gate and executor, exactly once; dry-run changes nothing."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine

from agent.audiences.gate import gate_audience_syncs
from agent.audiences.sync import run_audience_actions
from agent.bootstrap import account_as_mapping
from agent.cli import main
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle.run import run_cycle
from agent.decisions.gate import context_for, decide
from agent.decisions.prospecting_proposals import prospecting_proposals
from agent.decisions.undo import undo_proposal
from agent.execution.executor import execute_approved
from agent.execution.settlement import Settling
from agent.storage.action_states import create_action, get_action, list_actions, transition
from agent.storage.audience_ledger import destination_of, open_batch, record_destination, settle_batch
from connectors.connector_options import ConnectorOptions
from connectors.linkedin.dmp_segment_users import LinkedInAudienceSyncer
from connectors.linkedin.transport import RestClient
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.records import Entity
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from policies.base import Proposal, Snapshot
from tests.fakes.audience_http_servers import FakeLinkedInDmpSegments
from tests.fakes.google_pmax import PmaxCampaign
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator
from tests.integration.test_audience_cli import write_config
from tests.integration.test_audience_sync import NOW, Segments, email
from tests.integration.test_crm_segments import CUSTOMERS, import_list, import_outcomes, seed_entities, write
from tests.integration.test_crm_segments import config_for as crm_config
from tests.integration.test_real_connectors_e2e import Platforms
from tests.integration.test_real_connectors_e2e import connectors_for as real_connectors_for
from tests.integration.test_real_connectors_e2e import platforms as platforms  # noqa: F401  (fixture)

TODAY = date(2026, 11, 23)
SIM_ACCOUNT = "sim-social"
PMAX_ID = 20_000_000_001


@dataclass
class Shop:
    simulator: SimulatorConnector
    meta: FakeMeta
    clock: FixedClock
    campaign: Entity  # the prospecting campaign
    sim_audience: str  # the simulator's id of the audience the existing customers are synced to

    def ad_sets(self) -> list[Entity]:
        return [e for e in self.simulator.entities(SIM_ACCOUNT)
                if e.level == "ad_set" and e.parent_id == self.campaign.entity_id and e.status == "ACTIVE"]

    @property
    def audience_id(self) -> str:  # Meta's numeric id of that audience
        return str(self.meta.ids.numeric(self.sim_audience))


@pytest.fixture
def shop(engine: Engine) -> Iterator[Shop]:
    clock = FixedClock.at_day(TODAY, hour=12)
    spec = SimAccountSpec(SIM_ACCOUNT, "meta", "Acme Social", "EUR", "Europe/Berlin", 2, 2, 2)
    simulator = make_simulator([spec], clock.now, engine=engine, seed=11, history_days=40)
    entities = simulator.entities(SIM_ACCOUNT)
    campaign = sorted((e for e in entities if e.level == "campaign" and e.status == "ACTIVE"),
                      key=lambda e: e.entity_id)[0]
    targeted = {str(a) for e in entities for key in ("audience_ids", "excluded_audience_ids")
                for a in e.attributes.get(key, ())}
    audience = next(a.audience_id for a in simulator.audiences(SIM_ACCOUNT) if a.audience_id not in targeted)
    with FakeMeta(SimBackend(simulator, {"act_555": SIM_ACCOUNT}), access_token="meta-token") as meta:
        yield Shop(simulator, meta, clock, campaign, audience)


def config_for(database_url: str, shop: Shop) -> AgentConfig:
    return parse_config({
        "database_url": database_url, "initial_history_days": 28,
        "defaults": {"permissions": {"exclude_audience": "auto", "remove_audience_exclusion": "auto"},
                     "guardrails": {"max_actions_per_cycle": 50},
                     "policies": {"audience_overlap": {"enabled": False}}},
        "accounts": [{
            "id": "acme-social", "platform": "meta", "currency": "EUR", "timezone": "Europe/Berlin",
            "credentials": {"access_token": "meta-token", "ad_account_id": "act_555"},
            "audiences": {"existing-customers": shop.audience_id},
            "prospecting": {"campaigns": [shop.campaign.name.upper()], "exclude_segment": "existing-customers"},
        }],
        "experiments": {"holdout_share": {}},
    }, environ={})


def connectors_for(config: AgentConfig, shop: Shop) -> dict[str, Any]:
    options = ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(0)),
                               tuning=(MetaOptions(graph_url=shop.meta.url),))
    context = ConnectorContext(platform="meta", accounts=[account_as_mapping(a) for a in config.accounts],
                               settings={}, database_url=config.database_url.get_secret_value(), now=shop.clock.now,
                               options=options)
    return {"meta": MetaConnector.from_context(context)}


def synced(engine: Engine, audience_id: str) -> None:
    """What a settled audience sync leaves in the ledger: the platform holds two members."""
    with engine.begin() as connection:
        open_batch(connection, batch_id="b1", account_id="acme-social", platform="meta", audience_id=audience_id,
                   segment="existing-customers", operation="add", members=[email("ann"), email("bob")],
                   action_id=None, now=NOW)
        settle_batch(connection, "b1", "applied", NOW)


def prospecting_actions(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return [a for a in list_actions(connection, accounts=["acme-social"]) if a["kind"] == "exclude_audience"]


def undo_through_the_gate(engine: Engine, config: AgentConfig, connectors: dict[str, Any], platform: str,
                          account_id: str, action_id: int, clock: FixedClock) -> tuple[Proposal, Any]:
    """A person's `actions undo` of an executed action: the undo proposal gated against the live
    entities and executed; returns the proposal and the executor's report."""
    with engine.connect() as connection:
        executed = get_action(connection, action_id)
    assert executed is not None
    undo = undo_proposal(executed, "alice")
    account = config.account(account_id)
    with engine.begin() as connection:
        live = {e.entity_id: e for e in connectors[platform].entities(account_id)}
        decision = decide(undo, account, config, dry_run=False, settings=config.guardrail_settings(account),
                          ctx=context_for(connection, account, config, clock.now(), live))
        undo_id = create_action(connection, undo, cycle_id=None, permission=decision.permission, dry_run=False,
                                now=clock.now(), key_salt="test-undo")
        transition(connection, undo_id, decision.state, actor="gate", reason=decision.reason, now=clock.now())
    assert decision.state == "approved", decision.reason
    report = execute_approved(engine, connectors, config, clock, settling=Settling(delay_seconds=0.0, attempts=1))
    assert report.outcomes == Counter({"executed": 1}), report.outcomes
    return undo, report


def test_a_synced_customer_audience_is_excluded_from_prospecting_ad_sets_once(engine: Engine, database_url: str,
                                                                              shop: Shop) -> None:
    config = config_for(database_url, shop)
    connectors = connectors_for(config, shop)
    expected = {e.entity_id for e in shop.ad_sets()}
    assert expected

    first = run_cycle(engine, config, connectors, shop.clock)
    assert first.accounts_failed == 0, first.errors
    assert prospecting_actions(engine) == []  # the platform does not hold the audience yet
    assert all(shop.sim_audience not in e.attributes.get("excluded_audience_ids", []) for e in shop.ad_sets())

    synced(engine, shop.audience_id)
    second = run_cycle(engine, config, connectors, shop.clock)
    assert second.accounts_failed == 0, second.errors
    actions = prospecting_actions(engine)
    assert {a["state"] for a in actions} == {"executed"}, actions
    assert all(a["evidence"]["audience_members_synced"] == 2 for a in actions)
    assert all(a["change"]["to"] == {"excluded_audience_id": shop.audience_id} for a in actions)
    # the world changed: every active ad set of the prospecting campaign excludes the audience, no other ad set
    for ad_set in shop.simulator.entities(SIM_ACCOUNT):
        if ad_set.level == "ad_set":
            assert (shop.sim_audience in ad_set.attributes.get("excluded_audience_ids", [])) == (
                ad_set.entity_id in expected), ad_set.entity_id
    assert len(actions) == len(expected)

    third = run_cycle(engine, config, connectors, shop.clock)
    assert third.accounts_failed == 0, third.errors
    assert len(prospecting_actions(engine)) == len(expected)  # already excluded: never proposed again

    # undo: the exclusion is taken out of the ad set's targeting, through the same gate
    undo_through_the_gate(engine, config, connectors, "meta", "acme-social", actions[0]["id"], shop.clock)
    undone = shop.simulator.entities(SIM_ACCOUNT, [str(shop.meta.ids.sim(actions[0]["entity_id"]))])[0]
    assert shop.sim_audience not in undone.attributes.get("excluded_audience_ids", [])


def test_dry_run_reports_the_exclusion_and_changes_nothing(engine: Engine, database_url: str, shop: Shop) -> None:
    config = config_for(database_url, shop)
    synced(engine, shop.audience_id)
    summary = run_cycle(engine, config, connectors_for(config, shop), shop.clock, dry_run=True)
    assert summary.accounts_failed == 0, summary.errors
    actions = prospecting_actions(engine)
    assert actions and {a["state"] for a in actions} == {"reported"}
    assert shop.simulator.mutation_log() == []


def test_config_check_names_a_prospecting_segment_that_is_not_synced(engine: Engine, tmp_path: Path) -> None:
    path = write_config(engine, tmp_path, {"shop-meta": {"customers": "2384"}})
    raw = yaml.safe_load(path.read_text())
    raw["accounts"][0]["prospecting"] = {"campaigns": ["Prospecting *"], "exclude_segment": "existing-customers"}
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert "prospecting.exclude_segment: 'existing-customers' must be a synced segment (one of audiences: customers)" \
        in result.output
    assert "Traceback" not in result.output
    raw["accounts"][0]["prospecting"] = {"campaigns": [], "exclude_segment": "customers"}
    path.write_text(yaml.safe_dump(raw))
    empty = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert empty.exit_code == 2 and "prospecting.campaigns" in empty.output, empty.output


def test_the_evidence_carries_the_campaigns_existing_customer_share(engine: Engine, tmp_path: Path) -> None:
    """Four CRM conversions of campaign s-c1, two from people who were customers before: 50%."""
    seed_entities(engine)
    # the CRM fixture's outcomes carry Google click ids (attributed to this account's campaign s-c1); the
    # snapshot below stands for a platform whose connector executes audience exclusions
    account = {"id": "shop-search", "platform": "simulator", "simulate": "google_ads", "currency": "USD",
               "audiences": {"existing-customers": "2384"},
               "prospecting": {"campaigns": ["s-c1"], "exclude_segment": "existing-customers", "window_days": 30}}
    config = crm_config(engine, accounts=[account])
    import_list(engine, config, write(tmp_path, "crm.csv", CUSTOMERS))
    import_outcomes(engine, config, tmp_path)
    with engine.begin() as connection:
        open_batch(connection, batch_id="b1", account_id="shop-search", platform="meta", audience_id="2384",
                   segment="existing-customers", operation="add", members=[email("ann")], action_id=None, now=NOW)
        settle_batch(connection, "b1", "applied", NOW)
    entities = [Entity("meta", "shop-search", "campaign", "s-c1", None, "c", "ACTIVE", "USD"),
                Entity("meta", "shop-search", "ad_set", "s-as1", "s-c1", "a", "ACTIVE", "USD",
                       attributes={"excluded_audience_ids": []})]
    snapshot = Snapshot(account_id="shop-search", platform="meta", currency="USD", timezone="UTC",
                        today=date(2026, 11, 25), entities={e.entity_id: e for e in entities}, daily={})
    [proposal] = prospecting_proposals(engine, config, config.account("shop-search"), snapshot)
    assert (proposal.entity_id, proposal.change["to"]) == ("s-as1", {"excluded_audience_id": "2384"})
    evidence = proposal.evidence
    assert (evidence["campaign_conversions"], evidence["campaign_existing_customers"]) == (4, 2)
    assert evidence["existing_share"] == 0.5 and evidence["existing_share_low"] < 0.5 < evidence["existing_share_high"]
    assert evidence["audience_members_synced"] == 1


def test_config_check_warns_about_performance_max_and_the_linkedin_permission(engine: Engine, tmp_path: Path
                                                                              ) -> None:
    path = write_config(engine, tmp_path, {"shop-search": {"customers": "555"}})
    raw = yaml.safe_load(path.read_text())
    search = next(a for a in raw["accounts"] if a["id"] == "shop-search")
    search["prospecting"] = {"campaigns": ["Prospecting *"], "exclude_segment": "customers"}
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "account shop-search: prospecting exclusions are set on Search and Display campaigns; Performance Max " \
        "campaigns take no user-list exclusion" in output
    assert "proposed on Meta ad sets only" not in output


# -- Google Ads: a negative user-list criterion on each prospecting Search campaign -----------------

GOOGLE_CUSTOMER = "1234567890"
USER_LIST = "4242"  # the Customer Match list the existing customers are synced to


def prospecting_config(database_url: str, account: dict[str, Any], audience_id: str, patterns: list[str],
                       **permissions: str) -> AgentConfig:
    """One account whose prospecting campaigns (`patterns`) exclude its synced existing customers."""
    return parse_config({
        "database_url": database_url, "initial_history_days": 28,
        "defaults": {"permissions": {"exclude_audience": "auto", "remove_audience_exclusion": "auto", **permissions},
                     "guardrails": {"max_actions_per_cycle": 50}},
        "accounts": [{**account, "audiences": {"existing-customers": audience_id},
                      "prospecting": {"campaigns": patterns, "exclude_segment": "existing-customers"}}],
        "experiments": {"holdout_share": {}},
    }, environ={})


def google_config(database_url: str, patterns: list[str]) -> AgentConfig:
    return prospecting_config(database_url, {
        "id": "acme-search", "platform": "google_ads", "currency": "USD", "timezone": "America/New_York",
        "credentials": {"developer_token": "dev-token", "customer_id": "123-456-7890"}}, USER_LIST, patterns)


def synced_for(engine: Engine, account_id: str, platform: str, audience_id: str) -> None:
    with engine.begin() as connection:
        open_batch(connection, batch_id=f"b-{account_id}", account_id=account_id, platform=platform,
                   audience_id=audience_id, segment="existing-customers", operation="add",
                   members=[email("ann"), email("bob")], action_id=None, now=NOW)
        settle_batch(connection, f"b-{account_id}", "applied", NOW)


def actions_of(engine: Engine, account_id: str, kind: str = "exclude_audience") -> list[Any]:
    with engine.connect() as connection:
        return [a for a in list_actions(connection, accounts=[account_id]) if a["kind"] == kind]


@pytest.fixture
def google_world(platforms: Platforms) -> Iterator[tuple[Platforms, Entity]]:
    """The fake holds the user list; one Search campaign is prospecting, and a Performance Max one too."""
    platforms.google.user_list_exclusions.user_lists[GOOGLE_CUSTOMER] = {USER_LIST}
    platforms.google.pmax.add(GOOGLE_CUSTOMER, PmaxCampaign(PMAX_ID, "Prospecting PMax", Decimal("50.00")))
    campaign = sorted((e for e in platforms.simulator.entities("sim-search")
                       if e.level == "campaign" and e.status == "ACTIVE"), key=lambda e: e.entity_id)[0]
    yield platforms, campaign


def _google_excluded(platforms: Platforms, campaign: Entity) -> set[str]:
    return set(platforms.google.user_list_exclusions.excluded.get((GOOGLE_CUSTOMER, campaign.entity_id), set()))


def test_google_prospecting_campaign_excludes_the_user_list_once_and_undo_removes_it(
        engine: Engine, database_url: str, google_world: tuple[Platforms, Entity]) -> None:
    platforms, campaign = google_world
    config = google_config(database_url, [campaign.name.upper(), "Prospecting PMax"])
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = real_connectors_for(config, clock, platforms)

    first = run_cycle(engine, config, connectors, clock)
    assert first.accounts_failed == 0, first.errors
    assert actions_of(engine, "acme-search") == []  # the platform does not hold the list yet
    assert _google_excluded(platforms, campaign) == set()

    synced_for(engine, "acme-search", "google_ads", USER_LIST)
    second = run_cycle(engine, config, connectors, clock)
    assert second.accounts_failed == 0, second.errors
    [action] = actions_of(engine, "acme-search")
    campaign_id = str(platforms.google.ids.numeric(campaign.entity_id))
    # once per campaign (not per ad group), and never on the Performance Max campaign
    assert (action["state"], action["entity_id"], action["entity_level"]) == ("executed", campaign_id, "campaign")
    assert action["change"]["to"] == {"excluded_audience_id": USER_LIST}
    assert _google_excluded(platforms, campaign) == {USER_LIST}
    [request] = [r for kind, r in platforms.google.requests if kind == "mutate:CampaignCriterionService"]
    [operation] = request.operations
    assert operation.create.negative and operation.create.user_list.user_list == \
        f"customers/{GOOGLE_CUSTOMER}/userLists/{USER_LIST}"
    live = connectors["google_ads"].entities("acme-search", [campaign_id])[0]
    assert live.attributes["excluded_audience_ids"] == [USER_LIST]  # read back through GAQL

    third = run_cycle(engine, config, connectors, clock)
    assert third.accounts_failed == 0, third.errors
    assert len(actions_of(engine, "acme-search")) == 1  # already excluded: never proposed again

    undo, _ = undo_through_the_gate(engine, config, connectors, "google_ads", "acme-search", action["id"], clock)
    assert undo.kind == "remove_audience_exclusion"
    assert _google_excluded(platforms, campaign) == set()
    again = execute_approved(engine, connectors, config, clock, settling=Settling(delay_seconds=0.0, attempts=1))
    assert again.mutating_calls == 0


def test_google_exclusion_whose_answer_is_lost_is_settled_by_reading(
        engine: Engine, database_url: str, google_world: tuple[Platforms, Entity]) -> None:
    platforms, campaign = google_world
    config = google_config(database_url, [campaign.entity_id.upper(), campaign.name])
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = real_connectors_for(config, clock, platforms)
    synced_for(engine, "acme-search", "google_ads", USER_LIST)
    platforms.google.faults.inject("drop_answer", "mutate:CampaignCriterionService")  # applied; answer lost

    summary = run_cycle(engine, config, connectors, clock)
    assert summary.accounts_failed == 0, summary.errors
    later = execute_approved(engine, connectors, config, clock, settling=Settling(delay_seconds=0.0, attempts=1))
    [action] = actions_of(engine, "acme-search")
    assert action["state"] == "executed", action
    assert later.mutating_calls == 0
    sent = [r for kind, r in platforms.google.requests if kind == "mutate:CampaignCriterionService"]
    assert len(sent) == 1 and _google_excluded(platforms, campaign) == {USER_LIST}  # sent exactly once


def test_google_dry_run_reports_the_exclusion_and_changes_nothing(
        engine: Engine, database_url: str, google_world: tuple[Platforms, Entity]) -> None:
    platforms, campaign = google_world
    config = google_config(database_url, [campaign.name])
    clock = FixedClock.at_day(TODAY, hour=12)
    synced_for(engine, "acme-search", "google_ads", USER_LIST)
    summary = run_cycle(engine, config, real_connectors_for(config, clock, platforms), clock, dry_run=True)
    assert summary.accounts_failed == 0, summary.errors
    actions = actions_of(engine, "acme-search")
    assert len(actions) == 1 and actions[0]["state"] == "reported"
    assert _google_excluded(platforms, campaign) == set()
    assert not any(kind == "mutate:CampaignCriterionService" and not r.validate_only
                   for kind, r in platforms.google.requests)


# -- LinkedIn: the DMP segment's ad segment, in the exclude facet of each prospecting campaign ------

DMP_SEGMENT = "9001"


def linkedin_config(database_url: str, patterns: list[str]) -> AgentConfig:
    return prospecting_config(database_url, {
        "id": "acme-b2b", "platform": "linkedin", "currency": "GBP", "timezone": "Europe/London",
        "credentials": {"access_token": "li-token", "ad_account_id": "5001"}}, DMP_SEGMENT, patterns,
        sync_audience="auto")


def linkedin_sync(engine: Engine, config: AgentConfig, dmp: FakeLinkedInDmpSegments, now: datetime = NOW
                  ) -> dict[str, Any]:
    """The audience sync of the existing customers, gated and run against the DMP segment users fake."""
    segments = Segments(**{"existing-customers": frozenset({email("ann"), email("bob")})})
    states = gate_audience_syncs(engine, config, now, segments, account_ids=("acme-b2b",), retry_refused=True)
    [state] = [s for key, s in states.items() if "lookalike" not in key]
    action_id = int(state.split("action ")[1].rstrip(")"))
    with engine.begin() as connection:
        transition(connection, action_id, "executing", actor="test", reason="claimed", now=now, expected="approved")
        action = dict(get_action(connection, action_id) or {})
    syncer = LinkedInAudienceSyncer(RestClient(base_url=dmp.url, version="202608", transport=None, timeout=10.0,
                                               now=lambda: now))
    run_audience_actions(engine, config.account("acme-b2b"), syncer, segments, [action], FixedClock(now), "test",
                         lambda _outcome: None)
    with engine.connect() as connection:
        return dict(get_action(connection, action_id) or {})


def test_linkedin_prospecting_campaigns_exclude_the_synced_segments_ad_segment(
        engine: Engine, database_url: str, platforms: Platforms) -> None:
    sim = platforms.simulator
    entities = sim.entities("sim-b2b")
    targeted = {str(a) for e in entities for key in ("audience_ids", "excluded_audience_ids")
                for a in e.attributes.get(key, ())}
    sim_audience = next(a.audience_id for a in sim.audiences("sim-b2b") if a.audience_id not in targeted)
    ad_segment = str(platforms.linkedin.ids.numeric(sim_audience))
    group = sorted((e for e in entities if e.level == "campaign" and e.status == "ACTIVE"),
                   key=lambda e: e.entity_id)[0]
    prospecting = {e.entity_id for e in entities if e.level == "ad_set" and e.parent_id == group.entity_id
                   and e.status == "ACTIVE"}
    assert prospecting
    config = linkedin_config(database_url, [group.name])
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = real_connectors_for(config, clock, platforms)

    with FakeLinkedInDmpSegments({DMP_SEGMENT}, permitted=False, access_token="li-token",
                                 ad_segments={DMP_SEGMENT: ad_segment}) as dmp:
        refused = linkedin_sync(engine, config, dmp)  # the app lacks the partner permission
        assert refused["decision_reason"].startswith("skipped: ")
        first = run_cycle(engine, config, connectors, clock)
        assert first.accounts_failed == 0, first.errors
        assert actions_of(engine, "acme-b2b") == []  # nothing synced, no ad segment: nothing proposed
        assert dmp.requests == [("POST", f"/rest/dmpSegments/{DMP_SEGMENT}/users")]  # no read after a refusal

        dmp.permitted = True
        assert linkedin_sync(engine, config, dmp, NOW + timedelta(hours=1))["state"] == "executed"
    with engine.connect() as connection:
        assert destination_of(connection, "acme-b2b", DMP_SEGMENT) == ad_segment  # recorded by the sync

    second = run_cycle(engine, config, connectors, clock)
    assert second.accounts_failed == 0, second.errors
    actions = actions_of(engine, "acme-b2b")
    assert {a["state"] for a in actions} == {"executed"}, actions
    assert {platforms.linkedin.ids.sim(a["entity_id"]) for a in actions} == prospecting
    assert all(a["change"]["to"] == {"excluded_audience_id": ad_segment} for a in actions)
    assert all(a["evidence"]["synced_audience_id"] == DMP_SEGMENT for a in actions)
    for ad_set in sim.entities("sim-b2b"):
        if ad_set.level == "ad_set":
            assert (sim_audience in ad_set.attributes.get("excluded_audience_ids", [])) == (
                ad_set.entity_id in prospecting), ad_set.entity_id

    third = run_cycle(engine, config, connectors, clock)
    assert third.accounts_failed == 0, third.errors
    assert len(actions_of(engine, "acme-b2b")) == len(prospecting)  # never proposed twice

    undo_through_the_gate(engine, config, connectors, "linkedin", "acme-b2b", actions[0]["id"], clock)
    undone = sim.entities("sim-b2b", [str(platforms.linkedin.ids.sim(actions[0]["entity_id"]))])[0]
    assert sim_audience not in undone.attributes.get("excluded_audience_ids", [])


def test_linkedin_dry_run_reports_the_exclusion_and_changes_nothing(
        engine: Engine, database_url: str, platforms: Platforms) -> None:
    group = sorted((e for e in platforms.simulator.entities("sim-b2b") if e.level == "campaign"
                    and e.status == "ACTIVE"), key=lambda e: e.entity_id)[0]
    config = linkedin_config(database_url, [group.name])
    clock = FixedClock.at_day(TODAY, hour=12)
    sim_audience = platforms.simulator.audiences("sim-b2b")[-1].audience_id
    synced_for(engine, "acme-b2b", "linkedin", DMP_SEGMENT)
    with engine.begin() as connection:
        record_destination(connection, "acme-b2b", DMP_SEGMENT, str(platforms.linkedin.ids.numeric(sim_audience)),
                           NOW)
    summary = run_cycle(engine, config, real_connectors_for(config, clock, platforms), clock, dry_run=True)
    assert summary.accounts_failed == 0, summary.errors
    actions = actions_of(engine, "acme-b2b")
    assert actions and {a["state"] for a in actions} == {"reported"}
    assert platforms.simulator.mutation_log() == []
