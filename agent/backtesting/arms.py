"""Backtest: replay the policies day by day on a simulated world and compare with reference arms.

Four arms run on the same seed (the same world, the same noise, the same injected incidents):
- `none`: no agent, nothing ever changes;
- `naive`: from day 7, pause any active ad set whose observed 7-day ROAS is below target;
- `oracle`: on day 7, pause exactly the ad sets whose hidden true ROAS is below target;
- `agent`: every day, build a Snapshot per account from what the platform reports (with the
  conversion-revision history the agent would have stored) and apply every proposal as approved,
  effective that day. Report-only proposals (refresh_creative) are counted, not applied. Pauses for
  runaway spend are re-enabled the next day, as a human would after checking.
Outcomes are measured once every conversion has matured, over the backtest days only, in US dollars
(each account's currency converted at the simulator's rates).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from connectors.errors import InvalidMutation
from connectors.records import Entity, MetricRow
from connectors.simulator.dynamics import (
    AppliedMutation,
    InjectedAnomaly,
    Observation,
    check_mutations,
    simulate,
)
from connectors.simulator.money import units_per_usd
from connectors.simulator.world import DEMO_SPECS, SimAccountSpec, World, build_world, union_reach
from policies import POLICY_NAMES, AnomalyFlag, detect_anomalies, evaluate
from policies.base import BudgetMove, ConversionRevision, Proposal, Snapshot
from policies.settings import PolicySettings, UnderperformersSettings

DEFAULT_START = date(2024, 1, 1)
ORACLE_DAY = 7
NAIVE_WINDOW = 7
HISTORY_DAYS = 90
BUDGET_HISTORY_DAYS = 35  # as agent/decisions/snapshots.py: the remedy ladder reads 28 days of budget levels
MATURITY_DAYS = 29  # the simulator reports every conversion within 28 days
REPORT_ONLY_KINDS = frozenset({"refresh_creative"})


@dataclass(frozen=True)
class ArmResult:
    """One arm's outcome over the backtest days (money in US dollars)."""

    name: str
    spend: float
    conversions: float
    conversion_value: float
    actions: int
    actions_by_kind: dict[str, int]
    pauses: int
    false_pauses: int
    safety_pauses: int
    surplus: float
    pipeline: float | None = None  # CRM pipeline of the backtest days' clicks, once every stage is reached
    pipeline_surplus: float | None = None  # pipeline - pipeline target x spend

    @property
    def roas(self) -> float | None:
        return self.conversion_value / self.spend if self.spend > 0 else None

    @property
    def cpa(self) -> float | None:
        return self.spend / self.conversions if self.conversions > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "spend": round(self.spend, 2), "conversions": round(self.conversions, 1),
            "conversion_value": round(self.conversion_value, 2),
            "roas": None if self.roas is None else round(self.roas, 4),
            "cpa": None if self.cpa is None else round(self.cpa, 2),
            "actions": self.actions, "actions_by_kind": dict(self.actions_by_kind), "pauses": self.pauses,
            "false_pauses": self.false_pauses, "safety_pauses": self.safety_pauses, "surplus": round(self.surplus, 2),
            **({} if self.pipeline is None or self.pipeline_surplus is None else {
                "pipeline": round(self.pipeline, 2), "pipeline_surplus": round(self.pipeline_surplus, 2)}),
        }


@dataclass(frozen=True)
class PauseRecord:
    """A pause some arm made, with the truth on that day (for false-pause and speed statistics)."""

    arm: str
    ad_set_id: str
    day_index: int
    true_roas: float
    policy: str


@dataclass(frozen=True)
class BacktestReport:
    """The arms side by side; `surplus_captured` = (agent - none) / (oracle - none)."""

    seed: int
    days: int
    start: date
    target_roas: float
    policies: tuple[str, ...]
    ad_sets: int
    arms: dict[str, ArmResult]
    pause_log: tuple[PauseRecord, ...] = ()
    flags: tuple[AnomalyFlag, ...] = ()  # raised on the agent's days
    injected_anomalies: tuple[InjectedAnomaly, ...] = ()  # what the simulator put in the data
    true_roas_at_oracle_day: dict[str, float] = field(default_factory=dict)
    agent_mutations: tuple[AppliedMutation, ...] = ()  # what the agent arm changed, in order
    agent_mutation_policies: tuple[str, ...] = ()  # the policy behind each (through the cycle only)

    @property
    def surplus_captured(self) -> float | None:
        none, oracle, agent = (self.arms[name].surplus for name in ("none", "oracle", "agent"))
        return (agent - none) / (oracle - none) if oracle != none else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "days": self.days, "start": self.start.isoformat(), "target_roas": self.target_roas,
            "policies": list(self.policies), "ad_sets": self.ad_sets,
            "arms": {name: arm.as_dict() for name, arm in self.arms.items()},
            "surplus_captured": None if self.surplus_captured is None else round(self.surplus_captured, 4),
        }


class SnapshotBuilder:
    """Turns each day's Observation into per-account Snapshots, remembering conversion revisions."""

    def __init__(self, world: World, specs: Sequence[SimAccountSpec]) -> None:
        self.world, self.specs = world, {spec.account_id: spec for spec in specs}
        self.revisions: dict[str, dict[tuple[date, int], ConversionRevision]] = defaultdict(dict)
        self._reach: dict[str, dict[frozenset[str], int]] = {}

    def reach_estimates(self, account_id: str) -> dict[frozenset[str], int]:
        """Singles and pairs of the account's audiences (the world's audiences never change)."""
        if account_id not in self._reach:
            ids = [audience.audience_id for audience in self.world.account(account_id).audiences]
            estimates = {frozenset({a}): union_reach(self.world, account_id, [a]) for a in ids}
            for first, second in itertools.combinations(ids, 2):
                estimates[frozenset({first, second})] = union_reach(self.world, account_id, [first, second])
            self._reach[account_id] = estimates
        return self._reach[account_id]

    def _record_revisions(self, account_id: str, rows: Sequence[MetricRow], as_of: date) -> None:
        totals: dict[date, tuple[float, Decimal]] = {}
        for row in rows:
            if row.level == "ad_set" and (as_of - row.day).days <= MATURITY_DAYS:
                conversions, value = totals.get(row.day, (0.0, Decimal(0)))
                totals[row.day] = (conversions + row.conversions, value + row.conversion_value)
        for day, (conversions, value) in totals.items():
            age = (as_of - day).days
            self.revisions[account_id][(day, age)] = ConversionRevision(day, age, conversions, value)

    def _with_created(self, entity: Entity) -> Entity:
        """Platforms report when an ad set was created (Meta created_time, Google start date); the
        simulator's all launch on the world's first day."""
        if entity.level != "ad_set" or "created" in entity.attributes:
            return entity
        return dataclasses.replace(entity, attributes={**entity.attributes, "created": self.world.start.isoformat()})

    def snapshot(self, observation: Observation, account_id: str, changes: dict[str, list[date]],
                 budget_moves: Mapping[str, list[BudgetMove]] | None = None) -> Snapshot:
        spec, as_of = self.specs[account_id], observation.as_of
        since = as_of - timedelta(days=HISTORY_DAYS)
        rows = [r for r in observation.metrics if r.account_id == account_id and r.day >= since]
        self._record_revisions(account_id, rows, as_of)
        daily: dict[str, list[MetricRow]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: r.day):
            daily[row.entity_id].append(row)
        return Snapshot(
            account_id=account_id, platform=spec.platform, currency=spec.currency, timezone=spec.timezone,
            today=as_of,
            entities={e.entity_id: self._with_created(e) for e in observation.entities if e.account_id == account_id},
            daily=dict(daily),
            monthly_budget=self.world.account(account_id).monthly_budget,
            search_terms=[t for t in observation.search_terms if t.account_id == account_id and t.day >= since],
            audiences=[a for a in observation.audiences if a.account_id == account_id],
            reach_estimates=self.reach_estimates(account_id),
            recent_changes={k: [d for d in v if d >= as_of - timedelta(days=14)] for k, v in changes.items()},
            conversion_revisions=list(self.revisions[account_id].values()),
            recent_budget_moves={k: [m for m in v if m.day >= as_of - timedelta(days=BUDGET_HISTORY_DAYS)]
                                 for k, v in (budget_moves or {}).items()},
        )


def mutation_for(proposal: Proposal, day: date) -> AppliedMutation | None:
    """The simulator mutation an approved proposal stands for (None for report-only kinds)."""
    target = proposal.change.get("to", {})
    if proposal.kind in REPORT_ONLY_KINDS:
        return None
    if proposal.kind in ("pause", "enable"):
        params: dict[str, Any] = {}
    elif proposal.kind == "set_budget":
        params = {"daily_budget": str(target["daily_budget"])}
    elif proposal.kind == "exclude_audience":
        params = {"audience_id": target["excluded_audience_id"]}
    else:
        params = dict(target)
    return AppliedMutation(proposal.kind, proposal.account_id, proposal.entity_id, params, day)


class _Arm:
    """Mutations and bookkeeping of one arm."""

    def __init__(self, name: str, world: World) -> None:
        self.name, self.world = name, world
        self.mutations: list[AppliedMutation] = []
        self.changes: dict[str, list[date]] = defaultdict(list)
        self.budget_moves: dict[str, list[BudgetMove]] = defaultdict(list)
        self.kinds: Counter[str] = Counter()
        self.pauses: list[PauseRecord] = []
        self.safety_pauses = 0

    def apply(self, new: list[AppliedMutation]) -> list[AppliedMutation]:
        """Append `new`, dropping any the platform would refuse; returns those accepted."""
        accepted = []
        for mutation in new:
            try:
                check_mutations(self.world, [*self.mutations, mutation])
            except InvalidMutation:
                continue
            self.mutations.append(mutation)
            self.changes[mutation.entity_id].append(mutation.effective_day)
            accepted.append(mutation)
        return accepted


PipelineMeasure = Callable[[Sequence[AppliedMutation]], float]


def _measure(arm: _Arm, world: World, start: date, days: int, target: float,
             pipeline: tuple[PipelineMeasure, float] | None = None) -> ArmResult:
    final = simulate(world, arm.mutations, start + timedelta(days=days + MATURITY_DAYS))
    currencies = {account.account_id: account.currency for account in world.accounts}
    spend = value = conversions = 0.0
    for row in final.metrics:
        if row.level == "ad_set" and start <= row.day < start + timedelta(days=days):
            rate = units_per_usd(currencies[row.account_id])
            spend += float(row.spend) / rate
            value += float(row.conversion_value) / rate
            conversions += row.conversions
    pipeline_value = pipeline[0](arm.mutations) if pipeline is not None else None
    return ArmResult(
        name=arm.name, spend=spend, conversions=conversions, conversion_value=value,
        actions=sum(arm.kinds.values()), actions_by_kind=dict(arm.kinds), pauses=len(arm.pauses),
        false_pauses=sum(1 for p in arm.pauses if p.true_roas >= target), safety_pauses=arm.safety_pauses,
        surplus=value - target * spend, pipeline=pipeline_value,
        pipeline_surplus=None if pipeline is None or pipeline_value is None else pipeline_value - pipeline[1] * spend,
    )


def _ad_set_ids(observation: Observation) -> list[str]:
    return [e.entity_id for e in observation.entities if e.level == "ad_set"]


def _active(observation: Observation) -> set[str]:
    return {e.entity_id for e in observation.entities if e.level == "ad_set" and e.status == "ACTIVE"}


def _run_oracle(arm: _Arm, world: World, start: date, target: float) -> dict[str, float]:
    day = start + timedelta(days=ORACLE_DAY)
    observation = simulate(world, [], day)
    losers = [a for a in _ad_set_ids(observation) if observation.truth.true_roas.get(a, 0.0) < target]
    owners = {e.entity_id: e.account_id for e in observation.entities}
    arm.apply([AppliedMutation("pause", owners[a], a, {}, day) for a in losers])
    arm.kinds["pause"] += len(losers)
    arm.pauses += [PauseRecord("oracle", a, ORACLE_DAY, observation.truth.true_roas[a], "oracle") for a in losers]
    return dict(observation.truth.true_roas)


def _naive_day(arm: _Arm, observation: Observation, day_index: int, target: float) -> None:
    today = observation.as_of
    window: dict[str, list[MetricRow]] = defaultdict(list)
    for row in observation.metrics:
        if row.level == "ad_set" and today - timedelta(days=NAIVE_WINDOW) <= row.day < today:
            window[row.entity_id].append(row)
    owners = {e.entity_id: e.account_id for e in observation.entities}
    new = []
    for ad_set_id in sorted(_active(observation)):
        spend = sum((r.spend for r in window[ad_set_id]), Decimal(0))
        value = sum((r.conversion_value for r in window[ad_set_id]), Decimal(0))
        if spend > 0 and float(value / spend) < target:
            new.append(AppliedMutation("pause", owners[ad_set_id], ad_set_id, {}, today))
            arm.pauses.append(PauseRecord("naive", ad_set_id, day_index,
                                          observation.truth.true_roas.get(ad_set_id, 0.0), "naive"))
    arm.kinds["pause"] += len(arm.apply(new))


def _agent_day(arm: _Arm, builder: SnapshotBuilder, observation: Observation, day_index: int,
               settings: PolicySettings, policies: Collection[str], flags: list[AnomalyFlag]) -> None:
    today = observation.as_of
    for account_id in sorted(builder.specs):
        snapshot = builder.snapshot(observation, account_id, arm.changes, arm.budget_moves)
        flags.extend(detect_anomalies(snapshot, settings.anomalies))
        for proposal in evaluate(snapshot, settings, only=policies):
            mutation = mutation_for(proposal, today)
            if mutation is None:
                arm.kinds[proposal.kind] += 1
                continue
            if not arm.apply([mutation]):
                continue
            arm.kinds[proposal.kind] += 1
            if proposal.kind == "set_budget":
                arm.budget_moves[proposal.entity_id].append(BudgetMove(
                    today, Decimal(proposal.change["from"]["daily_budget"]),
                    Decimal(proposal.change["to"]["daily_budget"])))
            if proposal.kind != "pause" or proposal.entity_level != "ad_set":
                continue
            if proposal.policy == "anomalies":  # a human checks and switches it back on tomorrow
                arm.safety_pauses += 1
                arm.apply([AppliedMutation("enable", account_id, proposal.entity_id, {}, today + timedelta(days=1))])
                continue
            arm.pauses.append(PauseRecord("agent", proposal.entity_id, day_index,
                                          observation.truth.true_roas.get(proposal.entity_id, 0.0), proposal.policy))


def run_backtest(
    seed: int,
    days: int = 90,
    policies: Collection[str] | None = None,
    *,
    specs: Sequence[SimAccountSpec] = DEMO_SPECS,
    start: date = DEFAULT_START,
    settings: PolicySettings | None = None,
    target_roas: float | None = None,
    agent_arm: Callable[[_Arm, int, date, list[AnomalyFlag]], None] | None = None,
    on_day: Callable[[int, int], None] | None = None,
    pipeline: Callable[[World], tuple[PipelineMeasure, float]] | None = None,
) -> BacktestReport:
    """Replay `policies` (default: all) for `days` days on the seed's world against none/naive/oracle.
    `agent_arm` runs the agent's day instead of applying proposals directly (agent/backtesting/cycle_arm.py:
    through the daemon's cycle); it updates the arm's mutations, counts, pauses and the flags.
    `on_day(done, total)` is told after each replayed day (a progress bar). `pipeline` (B2B worlds)
    gives, for the world, each arm's CRM pipeline in USD and the pipeline ROAS target its pipeline
    surplus is measured against."""
    chosen = tuple(policies) if policies else POLICY_NAMES
    unknown = sorted(set(chosen) - set(POLICY_NAMES))
    if unknown:
        raise ValueError(f"unknown policy name(s) {unknown}: choose from {', '.join(POLICY_NAMES)}")
    if days < ORACLE_DAY + 1:
        raise ValueError(f"a backtest needs more than {ORACLE_DAY} days (the oracle acts on day {ORACLE_DAY})")
    settings = settings or PolicySettings()
    if target_roas is not None:
        settings = settings.model_copy(update={
            "underperformers": UnderperformersSettings.model_validate(
                {**settings.underperformers.model_dump(), "target_roas": target_roas})})
    target = settings.underperformers.target_roas
    world = build_world(seed, specs, start)
    arms = {name: _Arm(name, world) for name in ("none", "naive", "oracle", "agent")}
    truth_at_oracle_day = _run_oracle(arms["oracle"], world, start, target)
    builder = SnapshotBuilder(world, specs)
    flags: list[AnomalyFlag] = []
    for day_index in range(1, days):
        today = start + timedelta(days=day_index)
        if agent_arm is not None:
            agent_arm(arms["agent"], day_index, today, flags)
        else:
            observation = simulate(world, arms["agent"].mutations, today)
            _agent_day(arms["agent"], builder, observation, day_index, settings, chosen, flags)
        if day_index >= NAIVE_WINDOW:
            _naive_day(arms["naive"], simulate(world, arms["naive"].mutations, today), day_index, target)
        if on_day is not None:
            on_day(day_index, days - 1)
    ad_sets = len(_ad_set_ids(simulate(world, [], start)))
    measure = pipeline(world) if pipeline is not None else None
    results = {name: _measure(arm, world, start, days, target, measure) for name, arm in arms.items()}
    pause_log = tuple(p for arm in arms.values() for p in arm.pauses)
    injected = tuple(a for a in simulate(world, [], start + timedelta(days=days)).truth.anomalies
                     if a.day < start + timedelta(days=days))
    return BacktestReport(seed, days, start, target, chosen, ad_sets, results, pause_log, tuple(flags), injected,
                          truth_at_oracle_day, tuple(arms["agent"].mutations))
