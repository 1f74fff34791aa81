"""The backtest's agent arm driven through the daemon's own cycle.

Each backtest day sets a FixedClock to noon UTC of that day and runs `run_cycle`, exactly as
`run --once --today DAY` does: pull from the simulator into a scratch SQLite database, evaluate,
gate (permissions, guardrails, cooldowns, cross-cycle conflicts, budget plans), execute. What the
simulator recorded as applied is the agent arm's history; the other arms (none, naive, oracle) and
the measurement stay those of `agent.backtesting.arms`. Runaway-spend pauses are switched back on by "a
human" the next day, as in the direct backtest.

The accounts are the world's; policies, guardrails and permissions come from `--config` (its
`defaults:` section and any account of the same id), with every kind on `auto` unless it says
otherwise.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.backtesting.arms import DEFAULT_START, BacktestReport, PauseRecord, run_backtest
from agent.backtesting.crm import CrmFeed, pipeline_measure
from agent.clock import FixedClock, local_today
from agent.config import AgentConfig
from agent.cycle.run import run_cycle
from agent.decisions.snapshots import load_snapshot
from agent.settings import PermissionSettings
from agent.storage.action_queries import actions_after
from agent.storage.db import upgrade
from agent.storage.store import make_engine
from connectors.records import Mutation
from connectors.simulator.b2b import B2B_SPECS
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.dynamics import AppliedMutation
from connectors.simulator.world import DEMO_SPECS, SimAccountSpec, build_world
from policies import POLICY_NAMES, AnomalyFlag, detect_anomalies
from policies.settings import ObjectiveSettings

WORLDS: dict[str, tuple[SimAccountSpec, ...]] = {"demo": DEMO_SPECS, "b2b": B2B_SPECS}
CRM_WORLDS = frozenset({"b2b"})  # worlds with a simulated CRM fed into the outcome store
PIPELINE_TARGET = 4.0  # pipeline ROAS a B2B world's arms are measured against
ALL_AUTO = {kind: "auto" for kind in PermissionSettings.model_fields}


def backtest_config(specs: Sequence[SimAccountSpec], config: AgentConfig | None = None,
                    policies: Collection[str] | None = None,
                    monthly_budgets: Mapping[str, Decimal] | None = None,
                    objectives: Mapping[str, ObjectiveSettings] | None = None) -> AgentConfig:
    """`config`'s defaults (and same-id accounts' overrides) over the world's accounts, all kinds on auto
    unless set, only `policies` enabled if given. Not dry-run, no kill switch, no holdouts: the arm's
    decisions are to be executed. `objectives` (per account id) replace the accounts' objectives."""
    raw: dict[str, Any] = config.model_dump(mode="python") if config is not None else {}
    raw["database_url"] = "sqlite://"  # the scratch database is passed in, not read from here
    defaults = raw.setdefault("defaults", {})
    set_here = {k: v for k, v in (defaults.get("permissions") or {}).items() if v is not None}
    defaults["permissions"] = {**ALL_AUTO, **set_here}
    if policies is not None:
        chosen = defaults.setdefault("policies", {})
        for name in POLICY_NAMES:
            chosen.setdefault(name, {})["enabled"] = name in policies
    own = {account.id: account for account in (config.accounts if config is not None else ())}
    accounts = []
    for spec in specs:
        account: dict[str, Any] = {"id": spec.account_id, "platform": "simulator", "simulate": spec.platform,
                                   "currency": spec.currency, "timezone": spec.timezone, "name": spec.name,
                                   "monthly_budget": (monthly_budgets or {}).get(spec.account_id)}
        if spec.account_id in own:
            mine = own[spec.account_id]
            if mine.monthly_budget is not None:
                account["monthly_budget"] = mine.monthly_budget
            account.update(policies=mine.policies, guardrails=mine.guardrails,
                           permissions=mine.permissions.model_dump(exclude_none=True),
                           protected_entities=mine.protected_entities,
                           objective=mine.objective.model_dump() if mine.objective else None)
        if objectives and spec.account_id in objectives:
            account["objective"] = objectives[spec.account_id].model_dump()
        accounts.append(account)
    # a backtest measures the policies' decisions whole: no randomized holdouts (bench/experiments.py has its own)
    raw["experiments"] = {**(raw.get("experiments") or {}), "holdout_share": {}}
    raw.update(accounts=accounts, dry_run=False, kill_switch=False)
    return AgentConfig.model_validate(raw)


class CycleArm:
    """Runs one backtest day of the agent arm through `run_cycle` (see the module docstring)."""

    def __init__(self, seed: int, specs: Sequence[SimAccountSpec], start: date, config: AgentConfig,
                 database: Path, crm: CrmFeed | None = None) -> None:
        # the daemon's own engine setup (WAL, its busy timeout): with the default 5 s timeout and a
        # rollback journal, a loaded machine made accounts' turns fail on "database is locked", so the
        # figures depended on the machine's load
        self.engine = make_engine(f"sqlite:///{database}")
        upgrade(self.engine)
        self.config = config
        self.clock = FixedClock(datetime.combine(start + timedelta(days=1), time(12), tzinfo=UTC))
        # history_days=1: the world starts on `start`, as the direct backtest's does
        self.simulator = SimulatorConnector(self.engine, specs, seed=seed, history_days=1, now=self.clock.now)
        self.last_action_id = 0
        self.policy_by_key: dict[str, str] = {}  # idempotency key -> the policy that proposed it
        self.to_enable: list[tuple[str, str]] = []
        self.crm = crm

    def mutation_policies(self) -> tuple[str, ...]:
        """The policy behind each of `applied()`'s mutations, in the same order ("" for a person's)."""
        return tuple(self.policy_by_key.get(row["idempotency_key"], "") for row in self.simulator.mutation_log())

    def applied(self) -> list[AppliedMutation]:
        return [AppliedMutation(kind=row["kind"], account_id=row["account_id"], entity_id=row["entity_id"],
                                params=row["params"], effective_day=row["effective_day"])
                for row in self.simulator.mutation_log()]

    def __call__(self, arm: Any, day_index: int, today: date, flags: list[AnomalyFlag]) -> None:
        self.clock.current = datetime.combine(today, time(12), tzinfo=UTC)
        for account_id, entity_id in self.to_enable:  # a human checked the runaway spend: back on
            self.simulator.apply_as_human(account_id, Mutation("enable", account_id, entity_id, {},
                                                               f"backtest-enable-{entity_id}-{today}"))
        self.to_enable = []
        if self.crm is not None:  # what the CRM knows by this noon, as a daily import would bring it
            self.crm.feed(self.engine, self.config, self.applied(), today)
        run_cycle(self.engine, self.config, {"simulator": self.simulator}, self.clock, dry_run=False)
        with self.engine.connect() as connection:
            actions = actions_after(connection, self.last_action_id)
        for action in actions:
            self.last_action_id = max(self.last_action_id, action.id)
            self.policy_by_key[action.idempotency_key] = action.policy
            if action.state != "executed":
                continue
            arm.kinds[action.kind] += 1
            if action.kind != "pause" or action.entity_level != "ad_set":
                continue
            if action.policy == "anomalies":
                arm.safety_pauses += 1
                self.to_enable.append((action.account_id, action.entity_id))
                continue
            truth = self.simulator.observe(action.account_id).truth.true_roas
            arm.pauses.append(PauseRecord("agent", action.entity_id, day_index, truth.get(action.entity_id, 0.0),
                                          action.policy))
        arm.mutations = self.applied()
        for account in self.config.accounts:
            snapshot = load_snapshot(self.engine, account, local_today(self.clock, account.timezone), self.clock)
            flags.extend(detect_anomalies(snapshot, self.config.policy_settings(account).anomalies))


def run_cycle_backtest(seed: int, days: int = 90, policies: Collection[str] | None = None, *,
                       config: AgentConfig | None = None, world: str = "demo",
                       start: date = DEFAULT_START, specs: Sequence[SimAccountSpec] | None = None,
                       monthly_budgets: bool = True, objectives: Mapping[str, ObjectiveSettings] | None = None,
                       pipeline_target: float = PIPELINE_TARGET,
                       on_day: Callable[[int, int], None] | None = None) -> BacktestReport:
    """`run_backtest` with the agent arm run through the daemon's cycle (gate, guardrails, executor).
    `specs` (tests) replaces the named world's accounts. Each account has the simulated advertiser's
    monthly budget (as the direct backtest's snapshots do) unless `monthly_budgets` is False.
    `objectives` (per account id) override the config's. In a world with a CRM (b2b) its outcomes are
    imported each day and every arm's pipeline surplus is measured against `pipeline_target`."""
    if specs is None:
        if world not in WORLDS:
            raise ValueError(f"unknown world {world!r}: choose from {', '.join(WORLDS)}")
        specs = WORLDS[world]
    unknown = sorted(set(policies or ()) - set(POLICY_NAMES))
    if unknown:
        raise ValueError(f"unknown policy name(s) {unknown}: choose from {', '.join(POLICY_NAMES)}")
    sim_world = build_world(seed, specs, start)
    world_budgets = {a.spec.account_id: a.monthly_budget for a in sim_world.accounts}
    full = backtest_config(specs, config, policies, world_budgets if monthly_budgets else None, objectives)
    with_crm = world in CRM_WORLDS
    first = full.accounts[0]
    with tempfile.TemporaryDirectory(prefix="backtest-") as scratch:
        arm = CycleArm(seed, specs, start, full, Path(scratch) / "agent.db",
                       CrmFeed(sim_world) if with_crm else None)
        report = run_backtest(seed, days, policies, specs=specs, start=start,
                              settings=full.policy_settings(first), agent_arm=arm, on_day=on_day,
                              pipeline=pipeline_measure(days, pipeline_target) if with_crm else None)
        report = dataclasses.replace(report, agent_mutation_policies=arm.mutation_policies())
        arm.engine.dispose()
    return report
