"""A small simulated world wired like production: real config, real database, real simulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from agent.bootstrap import build_connectors
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.storage import store
from agent.storage.action_states import create_action, transition
from connectors.records import Entity
from connectors.simulator.connector import SimulatorConnector
from policies.base import Proposal

TODAY = date(2026, 11, 23)


def small_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "database_url": database_url,
        "simulator": {"seed": 7, "history_days": 30, "campaigns_per_account": 2, "ad_sets_per_campaign": 2,
                      "ads_per_ad_set": 2},
        "accounts": [
            {"id": "shop-meta", "platform": "simulator", "simulate": "meta", "currency": "EUR",
             "timezone": "Europe/Berlin"},
            {"id": "shop-search", "platform": "simulator", "simulate": "google_ads", "currency": "USD",
             "timezone": "America/New_York"},
        ],
        # no randomized holdouts unless a test asks for them (tests/integration/test_experiments_holdout.py)
        "experiments": {"holdout_share": {}},
    }
    raw.update(overrides)
    return raw


@dataclass
class SimWorld:
    """The pieces a test needs to drive the agent against the simulator."""

    engine: Engine
    config: AgentConfig
    clock: FixedClock
    simulator: SimulatorConnector

    @property
    def connectors(self) -> dict[str, Any]:
        return {"simulator": self.simulator}

    def live(self, account_id: str) -> dict[str, Entity]:
        return {e.entity_id: e for e in self.simulator.entities(account_id)}

    def budget_holders(self, account_id: str) -> list[Entity]:
        return [e for e in self.live(account_id).values() if e.daily_budget is not None and e.status == "ACTIVE"]

    def active_ad_sets(self, account_id: str) -> list[Entity]:
        return [e for e in self.live(account_id).values() if e.level == "ad_set" and e.status == "ACTIVE"]

    def refresh_store(self) -> None:
        """What a pull does for entities: the gate reads stored entities."""
        with self.engine.begin() as connection:
            for account in self.config.accounts:
                store.upsert_entities(connection, self.simulator.entities(account.id), self.clock.now())

    def queue(self, proposal: Proposal, state: str = "approved", approver: str = "tester") -> int:
        """Record a proposal and move it to `state` the way the gate and a human would."""
        now = self.clock.now()
        with self.engine.begin() as connection:
            action_id = create_action(connection, proposal, cycle_id=None, permission="propose", dry_run=False,
                                      now=now, key_salt=f"test-{uuid.uuid4().hex}")
            transition(connection, action_id, "pending_approval", actor="gate", reason="queued", now=now,
                       expires_at=now + timedelta(hours=24))
            if state == "approved":
                transition(connection, action_id, "approved", actor=f"test:{approver}", reason="approved", now=now,
                           data={"channel": "test", "approver": approver})
        return action_id


def pause_proposal(entity: Entity) -> Proposal:
    return Proposal(kind="pause", policy="test", account_id=entity.account_id, entity_id=entity.entity_id,
                    entity_level=entity.level, entity_name=entity.name,
                    change={"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}, rationale="test pause")


def budget_proposal(entity: Entity, factor: str) -> Proposal:
    assert entity.daily_budget is not None
    new_budget = (entity.daily_budget * Decimal(factor)).quantize(Decimal("0.01"))
    return Proposal(kind="set_budget", policy="test", account_id=entity.account_id, entity_id=entity.entity_id,
                    entity_level=entity.level, entity_name=entity.name,
                    change={"from": {"daily_budget": str(entity.daily_budget)},
                            "to": {"daily_budget": str(new_budget)}},
                    rationale=f"test budget x{factor}")


def make_world(engine: Engine, database_url: str, **overrides: Any) -> SimWorld:
    config = parse_config(small_config(database_url, **overrides), environ={})
    clock = FixedClock.at_day(TODAY, hour=12)
    connectors = build_connectors(config, clock, engine)
    simulator = connectors["simulator"]
    assert isinstance(simulator, SimulatorConnector)
    world = SimWorld(engine=engine, config=config, clock=clock, simulator=simulator)
    world.refresh_store()
    return world


@pytest.fixture
def sim_world(engine: Engine, database_url: str) -> SimWorld:
    return make_world(engine, database_url)


@pytest.fixture
def services() -> Iterator[list[Any]]:
    """Service subprocesses a test starts; killed at the end whatever happened."""
    started: list[Any] = []
    yield started
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()
