"""The simulated ad platform behind the `Connector` protocol: the zero-setup default.

It serves accounts that imitate Google Ads, Meta and LinkedIn. Reads replay the deterministic
world up to the account's local today; writes append to the mutation log, so what the agent
does changes the days that follow. Like Google Ads and Meta, it does not deduplicate a repeated
request: exactly-once is the agent's job, and `mutation_log()` shows any repeat.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, func, select

from connectors.errors import ConnectorError, InvalidMutation
from connectors.records import (
    AccountInfo,
    Audience,
    Entity,
    MetricRow,
    Mutation,
    MutationResult,
    SearchTermRow,
    SegmentRow,
)
from connectors.registry import ConnectorContext
from connectors.segments import BREAKDOWN_REPORTS, UNKNOWN, complete_with_unknown
from connectors.simulator.dynamics import AppliedMutation, Observation, check_mutations, simulate, union_reach
from connectors.simulator.intraday import partial_rows
from connectors.simulator.persistence import SIM_METADATA, sim_mutations, sim_worlds
from connectors.simulator.segment_actions import SEGMENT_KINDS, ExclusionHistory
from connectors.simulator.segments import Exclusions, segment_rows
from connectors.simulator.world import SimAccountSpec, World, build_world

FaultHook = Callable[[str, Mutation], None]
FAULT_ENV = "PMA_SIM_FAULT"
LATENCY_ENV = "PMA_SIM_LATENCY_MS"  # added to every read, like a real platform's round trip


def fault_hook_from_env(spec: str | None) -> FaultHook | None:
    """Crash-test hook: `PMA_SIM_FAULT=after_apply:3` SIGKILLs this process at the third
    `after_apply` point (`before_apply` likewise). Only the simulator has it; it is how tests prove
    that a crash at any point never repeats an executed action."""
    if not spec:
        return None
    stage, _, count = spec.partition(":")
    remaining = [int(count or 1)]
    lock = threading.Lock()  # accounts apply in parallel threads

    def hook(point: str, _mutation: Mutation) -> None:
        if point != stage:
            return
        with lock:
            remaining[0] -= 1
            if remaining[0] == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    return hook
BUDGET_LEVELS = ("campaign", "ad_set")


class SimulatorConnector:
    """Connector for the simulated platform. One instance serves every simulated account."""

    platform = "simulator"

    def __init__(
        self,
        engine: Engine,
        specs: Sequence[SimAccountSpec],
        *,
        seed: int,
        history_days: int,
        now: Callable[[], datetime],
        fault_hook: FaultHook | None = None,
        read_latency: float = 0.0,
    ) -> None:
        self._engine = engine
        self._specs = {spec.account_id: spec for spec in specs}
        self._seed = seed
        self._history_days = history_days
        self._now = now
        self.fault_hook = fault_hook
        self.read_latency = read_latency
        self.world_id = f"seed-{seed}"
        self.mutating_calls = 0
        self._world: World | None = None
        self._lock = threading.RLock()  # accounts are pulled in parallel threads
        self._cache: dict[tuple[date, int], Observation] = {}
        self._log: tuple[tuple[int, int | None], list[dict[str, Any]]] | None = None  # see mutation_log

    @classmethod
    def from_context(cls, context: ConnectorContext) -> SimulatorConnector:
        settings = context.settings
        specs = [
            SimAccountSpec(
                account_id=str(a["id"]),
                platform=str(a["simulate"]),
                name=str(a.get("name") or a["id"]),
                currency=str(a["currency"]),
                timezone=str(a["timezone"]),
                campaigns=int(settings.get("campaigns_per_account", 3)),
                ad_sets_per_campaign=int(settings.get("ad_sets_per_campaign", 3)),
                ads_per_ad_set=int(settings.get("ads_per_ad_set", 3)),
            )
            for a in context.accounts
        ]
        engine = context.options.engine or create_engine(context.database_url)
        return cls(
            engine,
            specs,
            seed=int(settings.get("seed", 42)),
            history_days=int(settings.get("history_days", 60)),
            now=context.now,
            fault_hook=fault_hook_from_env(os.environ.get(FAULT_ENV)),
            read_latency=float(os.environ.get(LATENCY_ENV, "0")) / 1000,
        )

    # -- world and clock ------------------------------------------------------------------

    def local_today(self, account_id: str) -> date:
        return self._now().astimezone(ZoneInfo(self._spec(account_id).timezone)).date()

    def _spec(self, account_id: str) -> SimAccountSpec:
        try:
            return self._specs[account_id]
        except KeyError:
            raise ConnectorError(f"simulator: no simulated account {account_id!r}") from None

    def world(self) -> World:
        """The world, created (and its start day persisted) on first use."""
        with self._lock:
            return self._load_world()

    def _load_world(self) -> World:
        if self._world is None:
            SIM_METADATA.create_all(self._engine, checkfirst=True)
            with self._engine.begin() as connection:
                row = connection.execute(
                    select(sim_worlds.c.start_day).where(sim_worlds.c.world_id == self.world_id)
                ).one_or_none()
                if row is None:
                    today = min(self.local_today(a) for a in self._specs) if self._specs else self._now().date()
                    start = today - timedelta(days=self._history_days)
                    connection.execute(
                        sim_worlds.insert().values(
                            world_id=self.world_id, seed=self._seed, start_day=start, created_at=self._now()
                        )
                    )
                else:
                    start = row.start_day
            self._world = build_world(self._seed, list(self._specs.values()), start)
        return self._world

    def mutation_log(self) -> list[dict[str, Any]]:
        """Every mutation applied to this world, oldest first (the platform's own record).

        The log only grows (any process sharing the database may append), so it is read again only
        when its row count or last id has changed: one aggregate query instead of every row, on each of
        the many reads a cycle makes between two writes."""
        self.world()
        mine = sim_mutations.c.world_id == self.world_id
        with self._engine.connect() as connection:
            count, last = connection.execute(select(func.count(), func.max(sim_mutations.c.id)).where(mine)).one()
            cached = self._log
            if cached is not None and cached[0] == (count, last):
                return list(cached[1])
            rows = [dict(row) for row in connection.execute(
                select(sim_mutations).where(mine).order_by(sim_mutations.c.id)).mappings()]
        self._log = ((len(rows), rows[-1]["id"] if rows else None), rows)
        return list(rows)

    def observe(self, account_id: str) -> Observation:
        """The world as seen on the account's local today (cached until the next mutation)."""
        if self.read_latency:
            time.sleep(self.read_latency)
        as_of = self.local_today(account_id)
        world = self.world()
        log = self.mutation_log()
        key = (as_of, len(log))
        with self._lock:
            if key not in self._cache:
                self._cache = {key: simulate(world, self._applied(log), as_of)}
            return self._cache[key]

    def _applied(self, log: list[dict[str, Any]] | None = None) -> list[AppliedMutation]:
        return [
            AppliedMutation(
                kind=row["kind"],
                account_id=row["account_id"],
                entity_id=row["entity_id"],
                params=row["params"],
                effective_day=row["effective_day"],
            )
            for row in (self.mutation_log() if log is None else log)
        ]

    # -- reads -------------------------------------------------------------------------------

    def accounts(self) -> Sequence[AccountInfo]:
        return [
            AccountInfo(
                platform=spec.platform, account_id=spec.account_id, name=spec.name,
                currency=spec.currency, timezone=spec.timezone,
            )
            for spec in self._specs.values()
        ]

    def entities(self, account_id: str, entity_ids: Sequence[str] | None = None) -> Sequence[Entity]:
        wanted = set(entity_ids) if entity_ids is not None else None
        return [
            e
            for e in self.observe(account_id).entities
            if e.account_id == account_id and (wanted is None or e.entity_id in wanted)
        ]

    def daily_metrics(self, account_id: str, start: date, end: date) -> Iterable[MetricRow]:
        return [
            m for m in self.observe(account_id).metrics if m.account_id == account_id and start <= m.day <= end
        ]

    def intraday_metrics(self, account_id: str, day: date) -> Iterable[MetricRow]:
        """Today's rows so far (connectors/simulator/intraday.py); none for any other day, and none for an
        account imitating LinkedIn, whose connector reads complete days only."""
        spec = self._spec(account_id)
        local_now = self._now().astimezone(ZoneInfo(spec.timezone))
        if day != local_now.date() or spec.platform == "linkedin":
            return []
        return partial_rows(self.world(), self._applied(), account_id, local_now)

    def search_terms(self, account_id: str, start: date, end: date) -> Iterable[SearchTermRow]:
        return [
            t for t in self.observe(account_id).search_terms if t.account_id == account_id and start <= t.day <= end
        ]

    def audiences(self, account_id: str) -> Sequence[Audience]:
        return [a for a in self.observe(account_id).audiences if a.account_id == account_id]

    def estimate_reach(self, account_id: str, audience_ids: Sequence[str]) -> int:
        return union_reach(self.world(), account_id, audience_ids)

    def breakdown_reports(self, account_id: str) -> Sequence[str]:
        """The breakdown reports of the platform the account imitates."""
        return tuple(BREAKDOWN_REPORTS.get(self._spec(account_id).platform, {}))

    def segment_metrics(self, account_id: str, report: str, start: date, end: date) -> Iterable[SegmentRow]:
        """One breakdown report: the ad sets' days split by their true segments (connectors/simulator/segments.py)."""
        dimensions = BREAKDOWN_REPORTS.get(self._spec(account_id).platform, {}).get(report)
        if dimensions is None:
            raise ConnectorError(f"simulator: account {account_id} has no {report!r} breakdown")
        rows = [m for m in self.daily_metrics(account_id, start, end) if m.level == "ad_set"]
        split = segment_rows(self._seed, rows, "", dimensions, self.segment_exclusions())
        if self._spec(account_id).platform == "meta" and "region" in dimensions:
            # a "Type 1" breakdown: Meta returns no off-Meta conversions under `region`; they land in `unknown`
            split = complete_with_unknown([replace(r, conversions=0.0, conversion_value=Decimal(0)) for r in split
                                           if r.segment != UNKNOWN], rows, dimensions)
        return split

    def segment_exclusions(self) -> Exclusions:
        """(ad set, dimension, day) -> the segments the ad set excluded that day, from the mutation log."""
        platform_of, currency_of, campaign_of = {}, {}, {}
        for account in self.world().accounts:
            for campaign in account.campaigns:
                for ad_set in campaign.ad_sets:
                    platform_of[ad_set.ad_set_id] = account.platform
                    currency_of[ad_set.ad_set_id] = account.currency
                    campaign_of[ad_set.ad_set_id] = campaign.campaign_id
        return ExclusionHistory(platform_of, currency_of, self._applied(), campaign_of).excluded

    @property
    def seed(self) -> int:
        return self._seed

    # -- writes ------------------------------------------------------------------------------

    def apply(self, account_id: str, mutations: Sequence[Mutation]) -> Sequence[MutationResult]:
        self.mutating_calls += 1
        return [self._apply_one(account_id, mutation, actor="agent") for mutation in mutations]

    def applied_keys(self, account_id: str, idempotency_keys: Sequence[str]) -> set[str]:
        """Which of these keys the platform has applied (used to reconcile after a crash)."""
        wanted = set(idempotency_keys)
        return {row["idempotency_key"] for row in self.mutation_log()
                if row["account_id"] == account_id and row["idempotency_key"] in wanted}

    def apply_as_human(self, account_id: str, mutation: Mutation) -> MutationResult:
        """A change made by a person in the platform's UI: what drift checks must notice."""
        return self._apply_one(account_id, mutation, actor="human")

    def _apply_one(self, account_id: str, mutation: Mutation, actor: str) -> MutationResult:
        error = self._validate(account_id, mutation)
        if error:
            return MutationResult(idempotency_key=mutation.idempotency_key, ok=False, error=error)
        params = self._params(mutation)
        if self.fault_hook:
            self.fault_hook("before_apply", mutation)
        with self._engine.begin() as connection:
            connection.execute(
                sim_mutations.insert().values(
                    world_id=self.world_id,
                    idempotency_key=mutation.idempotency_key,
                    account_id=account_id,
                    entity_id=mutation.entity_id,
                    kind=mutation.kind,
                    params=_jsonable(params),
                    effective_day=self.local_today(account_id),
                    actor=actor,
                    applied_at=self._now(),
                )
            )
        if self.fault_hook:
            self.fault_hook("after_apply", mutation)
        return MutationResult(
            idempotency_key=mutation.idempotency_key, ok=True, platform_ref=self._reference(mutation, params)
        )

    @staticmethod
    def _params(mutation: Mutation) -> dict[str, Any]:
        params = dict(mutation.params)
        if mutation.kind == "new_ad":
            params.setdefault("ad_set_id", mutation.entity_id)
            params.setdefault("new_ad_id", f"{mutation.entity_id}-n{mutation.idempotency_key[:8]}")
        return params

    @staticmethod
    def _reference(mutation: Mutation, params: Mapping[str, Any]) -> str:
        return str(params.get("new_ad_id") or mutation.entity_id)

    def _validate(self, account_id: str, mutation: Mutation) -> str | None:
        """The platform's own checks: unknown entity, budget on a non-budget level, bad amount."""
        if mutation.account_id != account_id:
            return f"mutation for account {mutation.account_id} sent to {account_id}"
        found = self.entities(account_id, [mutation.entity_id])
        if not found:
            return f"entity {mutation.entity_id} not found in account {account_id}"
        entity = found[0]
        if mutation.kind == "set_budget":
            if entity.daily_budget is None:
                return f"entity {entity.entity_id} ({entity.level}) holds no budget"
            try:
                amount = Decimal(str(mutation.params["daily_budget"]))
            except (KeyError, InvalidOperation):
                return "set_budget needs a numeric daily_budget"
            if amount <= 0:
                return f"daily_budget must be positive, got {amount}"
        if mutation.kind in ("exclude_audience", "remove_audience_exclusion", "new_ad", *SEGMENT_KINDS) \
                and entity.level != "ad_set":
            return f"{mutation.kind} applies to an ad set, not a {entity.level}"
        try:  # everything else the simulated platform itself would refuse
            candidate = AppliedMutation(kind=mutation.kind, account_id=account_id, entity_id=mutation.entity_id,
                                        params=_jsonable(self._params(mutation)),
                                        effective_day=self.local_today(account_id))
            check_mutations(self.world(), [*self._applied(), candidate])
        except InvalidMutation as error:
            return str(error)
        return None


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (str(value) if isinstance(value, Decimal) else value) for key, value in params.items()}
