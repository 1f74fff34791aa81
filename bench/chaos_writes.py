"""Write faults through the real connectors: the facebook-business SDK (Meta) and httpx (LinkedIn)
against the fake platform servers, with bench/fault_proxy.py in between.

Each round builds a new world: a simulator behind the fakes, an agent database, one approved action
per entity (pause, budget, audience exclusion, new ad). A cycle runs with write faults on, then
the operator's re-run without faults settles what it can, and the simulator's mutation log (every
write the fakes applied) is compared with the action records. The fakes key their writes
themselves, so records and log are matched by account, entity and kind (one action per entity).

Google Ads speaks gRPC (HTTP/2): a fault proxy for it is more than this bench is worth, so Google
write faults are not injected here.
"""

from __future__ import annotations

import logging
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `make bench` runs every bench/*.py as a script: import from the repository,
    # with bench/ itself off the path (bench/requests.py would shadow the `requests` library)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine

from agent.bootstrap import account_as_mapping
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle.run import run_cycle
from agent.storage import store
from agent.storage.action_states import create_action, transition
from bench.chaos_kills import HarnessError, World
from bench.chaos_records import Counts, agent_rows, count_records
from bench.common import BENCH_DAY, migrated_engine, sqlite_database
from bench.fault_proxy import FaultProxy
from connectors.base import Connector
from connectors.connector_options import ConnectorOptions
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.records import Entity
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.world import SimAccountSpec
from policies.base import Proposal
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, make_simulator

CLIENT_TIMEOUT = 1.0  # seconds; a late answer comes after LATE_SECONDS
LATE_SECONDS = 1.6
FAULT_RATE = 0.35  # of write requests, while faults are on
META_PAGE, LINKEDIN_ORG = "100200300", "2414183"
SIM_ACCOUNTS = {"acme-social": "sim-social", "acme-b2b": "sim-b2b"}
POLICIES = ("underperformers", "reallocation", "pacing", "anomalies", "creative_fatigue", "negative_keywords",
            "audience_overlap")


def agent_config(database_url: str, history_days: int) -> AgentConfig:
    """Meta and LinkedIn accounts; policies off, so only the queued actions are executed."""
    return parse_config({
        "database_url": database_url,
        "initial_history_days": history_days,
        "defaults": {"policies": {name: {"enabled": False} for name in POLICIES},
                     "copywriter": {"enabled": False}},
        "accounts": [
            {"id": "acme-social", "platform": "meta", "currency": "EUR", "timezone": "Europe/Berlin",
             "credentials": {"access_token": "meta-token", "ad_account_id": "act_555"},
             "new_ads": {"meta_page_id": META_PAGE, "landing_url": "https://acme.example/shop"}},
            {"id": "acme-b2b", "platform": "linkedin", "currency": "GBP", "timezone": "Europe/London",
             "credentials": {"access_token": "li-token", "ad_account_id": "5001"},
             "new_ads": {"linkedin_organization": f"urn:li:organization:{LINKEDIN_ORG}",
                         "landing_url": "https://acme.example/b2b"}},
        ],
    }, environ={})


def build_connectors(config: AgentConfig, clock: FixedClock, meta_url: str, linkedin_url: str,
                     seed: int) -> dict[str, Connector]:
    options = ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(seed)),  # no waits
                               tuning=(MetaOptions(graph_url=meta_url, timeout=CLIENT_TIMEOUT),
                                       LinkedInOptions(base_url=linkedin_url, timeout=CLIENT_TIMEOUT)))
    connectors: dict[str, Connector] = {}
    for platform, factory in (("meta", MetaConnector), ("linkedin", LinkedInConnector)):
        accounts = [account_as_mapping(a) for a in config.accounts if a.platform == platform]
        context = ConnectorContext(platform=platform, accounts=accounts, settings={},
                                   database_url=config.database_url.get_secret_value(), now=clock.now,
                                   options=options)
        connectors[platform] = factory.from_context(context)
    return connectors


def proposals_for(account_id: str, entities: Mapping[str, Entity], connector: Connector) -> list[Proposal]:
    """One change per active ad set, in turn: budget up 10%, pause, an audience excluded, a new ad."""
    made: list[Proposal] = []
    audiences = [a.audience_id for a in connector.audiences(account_id)]

    def proposal(entity: Entity, kind: str, change: dict[str, Any]) -> Proposal:
        return Proposal(kind=kind, policy="bench", account_id=account_id, entity_id=entity.entity_id,
                        entity_level=entity.level, entity_name=entity.name, change=change, rationale=f"bench {kind}")

    ad_sets = [e for e in entities.values() if e.level == "ad_set" and e.status == "ACTIVE"]
    for index, entity in enumerate(sorted(ad_sets, key=lambda e: e.entity_id)):
        kind = ("set_budget", "pause", "exclude_audience", "new_ad")[index % 4]
        if kind == "set_budget" and entity.daily_budget is not None:
            raised = (entity.daily_budget * Decimal("1.1")).quantize(Decimal("0.01"))
            made.append(proposal(entity, kind, {"from": {"daily_budget": str(entity.daily_budget)},
                                                "to": {"daily_budget": str(raised)}}))
        elif kind in ("set_budget", "pause"):
            made.append(proposal(entity, "pause", {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}))
        elif kind == "exclude_audience":
            excluded = list(entity.attributes.get("excluded_audience_ids", []))
            taken = {*entity.attributes.get("audience_ids", []), *excluded}
            free = [a for a in audiences if a not in taken]
            if free:
                made.append(proposal(entity, kind, {"from": {"excluded_audience_ids": excluded},
                                                    "to": {"excluded_audience_id": free[0]}}))
        else:
            made.append(proposal(entity, kind, {"from": {}, "to": {
                "headline": f"Plan 2027 with {entity.name}"[:30], "description": "400 teams, one report.",
                "status": "PAUSED", "name": f"bench copy {entity.entity_id}"}}))
    return made


def queue_approved(engine: Engine, proposals: list[Proposal], clock: FixedClock) -> None:
    """Record each proposal and approve it, the way the gate and a person would."""
    now = clock.now()
    with engine.begin() as connection:
        for index, item in enumerate(proposals):
            action_id = create_action(connection, item, cycle_id=None, permission="propose", dry_run=False, now=now,
                                      key_salt=f"bench-{index}")
            transition(connection, action_id, "pending_approval", actor="gate", reason="queued", now=now,
                       expires_at=now + timedelta(hours=24))
            transition(connection, action_id, "approved", actor="bench:operator", reason="approved", now=now,
                       data={"channel": "test", "approver": "operator"})


@contextmanager
def platforms(engine: Engine, clock: FixedClock, history_days: int, world: World,
              rng: random.Random) -> Iterator[tuple[FakeMeta, FakeLinkedIn, FaultProxy, FaultProxy]]:
    specs = [SimAccountSpec("sim-social", "meta", "Acme Social", "EUR", "Europe/Berlin", world.campaigns,
                            world.ad_sets_per_campaign, 1),
             SimAccountSpec("sim-b2b", "linkedin", "Acme B2B", "GBP", "Europe/London", world.campaigns,
                            world.ad_sets_per_campaign, 1)]
    simulator = make_simulator(specs, clock.now, engine=engine, seed=rng.randrange(1000),
                               history_days=history_days + 10)
    with ExitStack() as stack:
        meta = stack.enter_context(FakeMeta(SimBackend(simulator, {"act_555": "sim-social"}),
                                            access_token="meta-token", page_ids=[META_PAGE]))
        linkedin = stack.enter_context(FakeLinkedIn(SimBackend(simulator, {"5001": "sim-b2b"}),
                                                    access_token="li-token", organizations=[LINKEDIN_ORG]))
        meta.backend.lock = linkedin.backend.lock  # one world behind both fakes
        meta_proxy = stack.enter_context(FaultProxy(meta.url, "meta", rate=FAULT_RATE, rng=rng,
                                                    late_seconds=LATE_SECONDS))
        linkedin_proxy = stack.enter_context(FaultProxy(linkedin.url, "linkedin", rate=FAULT_RATE, rng=rng,
                                                        late_seconds=LATE_SECONDS))
        yield meta, linkedin, meta_proxy, linkedin_proxy


def cycle(engine: Engine, config: AgentConfig, connectors: Mapping[str, Connector], clock: FixedClock) -> None:
    """One cycle; if it raises, that is a finding about the product, printed, and the counts go on."""
    try:
        run_cycle(engine, config, connectors, clock)
    except Exception as error:  # noqa: BLE001 - whatever escapes the cycle is what is being measured
        print(f"  the cycle raised {type(error).__name__}: {str(error)[:200]}", flush=True)


def write_round(directory: Path, world: World, rng: random.Random, budget: int,
                by_fault: Counter[str]) -> dict[str, Counts]:
    """One world: faults on for one cycle (at most `budget` of them), then a clean re-run; counts per platform."""
    clock = FixedClock.at_day(BENCH_DAY, hour=12)
    history_days = min(world.history_days, 14)
    with sqlite_database(directory) as url:
        engine = migrated_engine(url)
        try:
            with platforms(engine, clock, history_days, world, rng) as (meta, linkedin, meta_proxy, linkedin_proxy):
                proxies = {"meta": meta_proxy, "linkedin": linkedin_proxy}
                for proxy in proxies.values():
                    proxy.enabled = False
                config = agent_config(url, history_days)
                connectors = build_connectors(config, clock, meta_proxy.url, linkedin_proxy.url, rng.randrange(10**6))
                run_cycle(engine, config, connectors, clock)  # the entities, as a pull stores them
                for account in config.accounts:
                    with engine.connect() as connection:
                        entities = store.load_entities(connection, account.id)
                    queue_approved(engine, proposals_for(account.id, entities, connectors[account.platform]), clock)
                for index, proxy in enumerate(proxies.values()):
                    proxy.max_faults = budget // 2 + (budget % 2 if index == 0 else 0)
                    proxy.enabled = True
                cycle(engine, config, connectors, clock)  # the faulted run
                for proxy in proxies.values():
                    proxy.enabled = False
                # the operator's re-run, some minutes later (the next scheduled cycle): writes whose
                # outcome stayed unknown are then old enough for their absence to count
                clock.advance(timedelta(minutes=10))
                cycle(engine, config, connectors, clock)
                for proxy in proxies.values():
                    by_fault.update(proxy.injected)
                return {"meta": _counts(engine, "acme-social", meta.ids.sim, meta_proxy, count_cycles=True),
                        "linkedin": _counts(engine, "acme-b2b", linkedin.ids.sim, linkedin_proxy, count_cycles=False)}
        finally:
            engine.dispose()


def _counts(engine: Engine, account: str, sim_id: Any, proxy: FaultProxy, *, count_cycles: bool) -> Counts:
    """One platform's figures: its rows of the log against its account's actions."""
    log, actions, cycles = agent_rows(engine)
    log = [row for row in log if row["account_id"] == SIM_ACCOUNTS[account]]
    actions = [a for a in actions if a["account_id"] == account]
    on_log = Counter((row["entity_id"], row["kind"]) for row in log)

    def where(action: Mapping[str, Any]) -> tuple[str, str]:
        entity = str(action["entity_id"]).rsplit(":", 1)[-1]  # LinkedIn URNs end in the numeric id
        return str(sim_id(entity)), str(action["kind"])

    claimed = {where(a) for a in actions}
    unclaimed = sum(n for place, n in on_log.items() if place not in claimed)
    counts = count_records(log, actions, cycles, lambda a: on_log[where(a)], unclaimed)
    counts.stuck_cycles = counts.stuck_cycles if count_cycles else 0  # the accounts share their cycles
    counts.injections = proxy.total
    return counts


def write_faults(total: int, world: World, seed: int) -> dict[tuple[str, str], Counts]:
    """Rounds until `total` write faults have been injected; counts per platform."""
    rng = random.Random(seed)
    logging.disable(logging.CRITICAL)  # the connectors' retry warnings would drown the figures
    try:
        return _write_faults(total, world, rng)
    finally:
        logging.disable(logging.NOTSET)


def _write_faults(total: int, world: World, rng: random.Random) -> dict[tuple[str, str], Counts]:
    results = {platform: Counts() for platform in ("meta", "linkedin")}
    injected, rounds = 0, 0
    by_fault: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="chaos-writes-") as tmp:
        while injected < total:
            rounds += 1
            if rounds > 4 * total + 4:
                raise HarnessError("write faults keep missing: no write request reached the proxy")
            for platform, counts in write_round(Path(tmp), world, rng, total - injected, by_fault).items():
                results[platform].add(counts)
                injected += counts.injections
    print(f"  write faults by kind: {', '.join(f'{k} {n}' for k, n in sorted(by_fault.items()))}; "
          f"{rounds} worlds", flush=True)
    return {(f"write faults: {platform}", "sqlite"): counts for platform, counts in results.items()}
