"""Write faults against the fake platforms, through the real connectors and SDKs.

Every fault a platform produces on a write (an answer slower than the client's timeout, an answer
dropped after the write was applied, a 5xx storm, 429s) must leave the platform changed exactly
once per approved action, and the action records must match the platform's own mutation log one
for one: `executed` <-> applied, `failed` <-> not applied, nothing left `executing` or `unknown`.
The kill switch must stop writes that were already claimed: nothing reaches a platform after
`pause-all-automation` returns.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from agent.bootstrap import account_as_mapping
from agent.cli import main
from agent.clock import FixedClock
from agent.config import AgentConfig
from agent.cycle.run import run_cycle
from agent.execution.executor import ExecutionReport, execute_approved
from agent.execution.reconcile import reconcile
from agent.execution.settlement import Settling
from agent.storage.action_states import create_action, executed_history, list_actions, transition
from agent.storage.models import Cycle
from connectors.base import Connector
from connectors.connector_options import ConnectorOptions
from connectors.google_ads.connector import GoogleAdsConnector, GoogleAdsOptions
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.records import Entity
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from policies.base import Proposal
from tests.e2e.test_cli import write_config
from tests.integration.test_real_connectors_e2e import TODAY, Platforms, agent_config, platforms  # noqa: F401

CLIENT_TIMEOUT = 1.0  # seconds, in the tests of slow answers; they answer later than this
PATIENT = 30.0  # seconds, elsewhere: a loaded machine must not turn a normal answer into a lost one
FAST = Settling(delay_seconds=0.0, attempts=1)  # one reading right after the write, no waiting in tests
ACCOUNT = {"google_ads": "acme-search", "meta": "acme-social", "linkedin": "acme-b2b"}
SIM_ACCOUNT = {"acme-search": "sim-search", "acme-social": "sim-social", "acme-b2b": "sim-b2b"}
KINDS = ("pause", "enable", "set_budget", "exclude_audience", "add_negative_keywords", "new_ad")


def connectors_for(config: AgentConfig, clock: FixedClock, platforms: Platforms,  # noqa: F811
                   timeout: float = PATIENT) -> dict[str, Connector]:
    """The real connectors with a client timeout of `timeout` seconds, pointed at the fakes."""
    options = ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(0)), tuning=(
        GoogleAdsOptions(channel_factory=platforms.google.channel_factory(), write_timeout=timeout),
        MetaOptions(graph_url=platforms.meta.url, timeout=timeout),
        LinkedInOptions(base_url=platforms.linkedin.url, timeout=timeout)))
    classes: dict[str, Any] = {"google_ads": GoogleAdsConnector, "meta": MetaConnector, "linkedin": LinkedInConnector}
    built: dict[str, Connector] = {}
    for platform, factory in classes.items():
        accounts = [account_as_mapping(a) for a in config.accounts if a.platform == platform]
        built[platform] = factory.from_context(ConnectorContext(
            platform=platform, accounts=accounts, settings={}, database_url=config.database_url.get_secret_value(),
            now=clock.now, options=options))
    return built


def _proposal(kind: str, entity: Entity, connector: Connector, tag: str) -> Proposal:
    change: dict[str, Any]
    if kind in ("pause", "enable"):
        states = ("ACTIVE", "PAUSED") if kind == "pause" else ("PAUSED", "ACTIVE")
        change = {"from": {"status": states[0]}, "to": {"status": states[1]}}
    elif kind == "set_budget":
        budget = Decimal(str(entity.daily_budget))
        change = {"from": {"daily_budget": str(budget)}, "to": {"daily_budget": str((budget * Decimal("1.1")).quantize(
            Decimal("1")))}}
    elif kind == "exclude_audience":
        excluded = list(entity.attributes.get("excluded_audience_ids", []))
        targeted = {*entity.attributes.get("audience_ids", []), *excluded}
        audience = next(a.audience_id for a in connector.audiences(entity.account_id) if a.audience_id not in targeted)
        change = {"from": {"excluded_audience_ids": excluded}, "to": {"excluded_audience_id": audience}}
    elif kind == "add_negative_keywords":
        change = {"from": {}, "to": {"keywords": [{"text": f"free {tag}", "match_type": "PHRASE"}]}}
    else:
        # a responsive search ad needs 3 headlines and 2 descriptions; Meta and LinkedIn take the first
        change = {"from": {}, "to": {"headlines": [f"Plan 2027 {tag}", "One report", "For 400 teams"],
                                     "descriptions": ["400 teams, one report.", "Start this week."],
                                     "status": "PAUSED", "name": f"test copy {tag}"}}
    return Proposal(kind=kind, policy="test", account_id=entity.account_id, entity_id=entity.entity_id,
                    entity_level=entity.level, entity_name=entity.name, change=change, rationale=f"test {kind}")


KINDS_ON = {  # what each platform's connector can execute, one action each
    "google_ads": ("pause", "set_budget", "add_negative_keywords", "new_ad"),
    "meta": ("pause", "set_budget", "exclude_audience", "new_ad"),
    "linkedin": ("pause", "set_budget", "exclude_audience", "new_ad"),
}


def _target(kind: str, entities: Sequence[Entity], used: set[str]) -> Entity:
    for entity in entities:
        if entity.entity_id in used or entity.status != "ACTIVE":
            continue
        if kind == "set_budget" and entity.daily_budget is not None:
            return entity
        if kind == "add_negative_keywords" and entity.level == "campaign":
            return entity
        if kind in ("pause", "exclude_audience", "new_ad") and entity.level == "ad_set":
            return entity
    raise AssertionError(f"no entity for {kind}")


def approve(engine: Engine, connector: Connector, clock: FixedClock, platform: str,
            kinds: Sequence[str] | None = None) -> list[int]:
    """Approved actions of `kinds` (default: every kind the platform executes), on distinct entities."""
    account_id = ACCOUNT[platform]
    entities = list(connector.entities(account_id))
    used: set[str] = set()
    ids = []
    for number, kind in enumerate(kinds or KINDS_ON[platform]):
        entity = _target(kind, entities, used)
        used.add(entity.entity_id)
        with engine.begin() as connection:
            action_id = create_action(connection, _proposal(kind, entity, connector, f"t{number}"), cycle_id=None,
                                      permission="auto", dry_run=False, now=clock.now(), key_salt="faults")
            transition(connection, action_id, "approved", actor="test", reason="approved", now=clock.now())
        ids.append(action_id)
    return ids


def states(engine: Engine, ids: Sequence[int]) -> dict[int, str]:
    with engine.connect() as connection:
        return {a["id"]: a["state"] for a in list_actions(connection) if a["id"] in ids}


def effects(fakes: Platforms, baseline: int) -> Counter[tuple[str, str, str]]:
    """The platform's own log since `baseline`: (kind, entity, effect) -> times applied. A created
    ad's own id differs per create, so new ads count by their copy."""
    counted: Counter[tuple[str, str, str]] = Counter()
    for row in fakes.simulator.mutation_log()[baseline:]:
        params = {k: v for k, v in row["params"].items() if k != "new_ad_id"}
        counted[(row["kind"], row["entity_id"], repr(sorted(params.items())))] += 1
    return counted


def assert_once_each(engine: Engine, fakes: Platforms, baseline: int, ids: Sequence[int]) -> None:
    """0 duplicates, 0 lost, 0 stuck: every action executed, and applied exactly once."""
    final = states(engine, ids)
    assert set(final.values()) == {"executed"}, final
    applied = effects(fakes, baseline)
    duplicates = {effect: n for effect, n in applied.items() if n > 1}
    assert not duplicates, duplicates
    # one applied change per action (Google's negative list arrives as one change per keyword and link)
    assert len({entity for _, entity, _ in applied}) == len(ids), applied


@pytest.fixture
def world(engine: Engine, database_url: str, platforms: Platforms) -> tuple[AgentConfig, FixedClock, dict[str, Connector]]:  # noqa: F811
    config = agent_config(database_url, permissions={kind: "auto" for kind in KINDS})
    clock = FixedClock.at_day(TODAY, hour=12)
    return config, clock, connectors_for(config, clock, platforms)


def settle_later(engine: Engine, config: AgentConfig, clock: FixedClock, connectors: dict[str, Connector]
                 ) -> ExecutionReport:
    """The next reconciliation, past the time a lost write could still land."""
    clock.advance(Settling().absent_after + timedelta(seconds=1))
    return reconcile(engine, connectors, config, clock, FAST)


# -- the scenarios ----------------------------------------------------------------------------------

def test_meta_pause_and_budget_batch_with_slow_answers_applies_once(
        engine: Engine, platforms: Platforms, world: Any) -> None:  # noqa: F811
    config, clock, _ = world
    connectors = connectors_for(config, clock, platforms, CLIENT_TIMEOUT)
    ids = approve(engine, connectors["meta"], clock, "meta", ("pause", "set_budget", "set_budget"))
    baseline = len(platforms.simulator.mutation_log())
    platforms.meta.faults.inject("slow_answer", "post:batch", seconds=CLIENT_TIMEOUT * 3)

    report = execute_approved(engine, connectors, config, clock, settling=FAST)

    assert platforms.meta.traffic.counts["post:batch"] == 1  # never re-sent
    assert report.outcomes["settled_executed"] == 3, report.outcomes  # read back at once: applied
    assert_once_each(engine, platforms, baseline, ids)
    with engine.connect() as connection:
        assert len(executed_history(connection, "acme-social", clock.now())) == 3  # cooldowns and caps see them


def test_linkedin_slow_create_is_not_looked_up_and_sent_again_before_it_lands(
        engine: Engine, platforms: Platforms, world: Any) -> None:  # noqa: F811
    config, clock, _ = world
    connectors = connectors_for(config, clock, platforms, CLIENT_TIMEOUT)
    [action_id] = ids = approve(engine, connectors["linkedin"], clock, "linkedin", ("new_ad",))
    baseline = len(platforms.simulator.mutation_log())
    arrived, release, done = threading.Event(), threading.Event(), threading.Event()
    platforms.linkedin.faults.inject("hold", "post:creatives", arrived=arrived, release=release, done=done)

    first = execute_approved(engine, connectors, config, clock, settling=FAST)  # the client gives up waiting

    assert arrived.is_set() and first.outcomes["unknown"] == 1, first.outcomes
    assert states(engine, ids) == {action_id: "unknown"}
    again = execute_approved(engine, connectors, config, clock, settling=FAST)
    assert again.mutating_calls == 0  # an unknown outcome is never executed again
    early = reconcile(engine, connectors, config, clock, FAST)  # not there yet, but it may still land
    assert states(engine, ids) == {action_id: "unknown"}, early.outcomes
    with engine.connect() as connection:  # counted as applied meanwhile
        assert [c.kind for c in executed_history(connection, "acme-b2b", clock.now())] == ["new_ad"]
    release.set()
    assert done.wait(10)
    settle_later(engine, config, clock, connectors)

    assert platforms.linkedin.traffic.counts["post:creatives:createInline"] == 1
    assert_once_each(engine, platforms, baseline, ids)


def test_a_google_5xx_storm_on_writes_ends_unknown_then_settled_never_failed(
        engine: Engine, platforms: Platforms, world: Any) -> None:  # noqa: F811
    config, clock, connectors = world
    ids = approve(engine, connectors["google_ads"], clock, "google_ads")
    baseline = len(platforms.simulator.mutation_log())
    platforms.google.faults.inject("server_error", "mutate:", times=100)

    stormy = execute_approved(engine, connectors, config, clock, settling=FAST)

    assert set(states(engine, ids).values()) == {"unknown"}, stormy.outcomes
    assert len(stormy.write_problems) == len(ids) and stormy.outcomes["failed"] == 0
    assert effects(platforms, baseline) == Counter()
    platforms.google.faults.clear()
    settled = settle_later(engine, config, clock, connectors)
    assert settled.outcomes["settled_approved"] == len(ids), settled.outcomes  # nothing applied: queued again
    assert not any("check it by hand" in line for line in settled.write_problems)
    execute_approved(engine, connectors, config, clock, settling=FAST)
    assert_once_each(engine, platforms, baseline, ids)


@pytest.mark.parametrize("platform", ["google_ads", "meta", "linkedin"])
@pytest.mark.parametrize("fault", ["drop_answer", "rate_limit", "server_error"])
def test_every_write_fault_leaves_each_change_applied_exactly_once(
        engine: Engine, platforms: Platforms, world: Any, platform: str, fault: str) -> None:  # noqa: F811
    config, clock, connectors = world
    ids = approve(engine, connectors[platform], clock, platform)
    baseline = len(platforms.simulator.mutation_log())
    fake = {"google_ads": platforms.google, "meta": platforms.meta, "linkedin": platforms.linkedin}[platform]
    match = {"google_ads": "mutate:", "meta": "post:", "linkedin": "post:"}[platform]
    fake.faults.inject(fault, match, times=2, retry_delay=0, retry_after=0, regain_minutes=0)

    report = execute_approved(engine, connectors, config, clock, settling=FAST)
    assert fake.faults.unused() < 2  # faults hit writes (on Meta, ads wait for their creatives' batch)
    first, settled_at_once = Counter(states(engine, ids).values()), report.outcomes["settled_executed"]
    for _ in range(3):  # later cycles: settle, then run what was not applied
        if set(states(engine, ids).values()) == {"executed"}:
            break
        settle_later(engine, config, clock, connectors)
        report = execute_approved(engine, connectors, config, clock, settling=FAST)

    assert "failed" not in states(engine, ids).values(), report.outcomes
    if fault == "rate_limit":  # refused, so surely not applied: retried at once
        assert first == Counter({"executed": len(ids)}) and settled_at_once == 0, first
    elif fault == "drop_answer":  # applied, answer lost: read back right away
        assert settled_at_once > 0, first
    else:  # not applied, but nothing says so: unknown until the platform shows it for long enough
        assert first["unknown"] > 0, first
    assert_once_each(engine, platforms, baseline, ids)


def test_the_kill_switch_stops_writes_already_claimed(
        tmp_path: Path, database_url: str, engine: Engine, platforms: Platforms, world: Any) -> None:  # noqa: F811
    config, clock, connectors = world
    ids = approve(engine, connectors["linkedin"], clock, "linkedin", ("pause", "set_budget", "exclude_audience"))
    baseline = len(platforms.simulator.mutation_log())
    arrived, release = threading.Event(), threading.Event()
    platforms.linkedin.faults.inject("hold", "post:", arrived=arrived, release=release)
    reports: list[ExecutionReport] = []
    executing = threading.Thread(target=lambda: reports.append(execute_approved(
        engine, connectors, config, clock, settling=FAST)))
    executing.start()
    assert arrived.wait(10)  # the first write is on its way; the others are claimed and wait their turn

    result = CliRunner().invoke(main, ["pause-all-automation", "--config", str(write_config(tmp_path, database_url))],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    sent_when_it_returned = platforms.linkedin.traffic.count("post:")
    release.set()
    executing.join(30)

    assert platforms.linkedin.traffic.count("post:") == sent_when_it_returned == 1
    assert reports[0].outcomes["in_flight_at_kill_switch"] == 1 and reports[0].outcomes["held"] == 2
    final = states(engine, ids)
    assert sorted(final.values()) == ["approved", "approved", "executed"], final
    assert len(effects(platforms, baseline)) == 1


def test_a_cycle_with_unknown_writes_is_degraded_and_lists_them(
        engine: Engine, platforms: Platforms, world: Any) -> None:  # noqa: F811
    config, clock, connectors = world
    platforms.google.faults.inject("server_error", "mutate:", times=100)
    config = config.model_copy(update={"execution": config.execution.model_copy(
        update={"settle_delay_seconds": 0})})  # no waiting in tests

    summary = run_cycle(engine, config, connectors, clock)

    with engine.connect() as connection:
        unknown = list(list_actions(connection, "unknown"))
        cycle_status = connection.execute(select(Cycle.status).where(Cycle.id == summary.cycle_id)).scalar_one()
    assert unknown and {a["account_id"] for a in unknown} == {"acme-search"}, summary.as_dict()
    assert summary.status == cycle_status == "degraded"
    assert len(summary.write_problems) == len(unknown)
    assert all("outcome unknown" in line for line in summary.write_problems), summary.write_problems
    assert summary.execution["executed"] > 0  # the other platforms went on
