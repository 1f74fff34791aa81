"""Day-by-day simulation: `simulate(world, mutations, as_of)` -> what the platforms report on `as_of`.

The result is a pure function of (world, mutations, as_of). Runs are memoised per world: a later
call whose mutations agree with an earlier run's up to that run's last day resumes from it instead
of replaying from the world's start, which keeps a daily agent loop linear rather than quadratic.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from connectors.errors import InvalidMutation
from connectors.records import Audience, Entity, MetricRow, SearchTermRow
from connectors.simulator.anomalies import InjectedAnomaly
from connectors.simulator.delivery import DayOutcome, simulate_day
from connectors.simulator.layout import DeliveryLayout, build_layout
from connectors.simulator.reporting import build_audiences, build_entities, build_metric_rows
from connectors.simulator.state import AppliedMutation, SimState, apply_mutation, initial_state
from connectors.simulator.truth import Truth, compute_truth
from connectors.simulator.world import World, union_reach

__all__ = [
    "AppliedMutation",
    "InjectedAnomaly",
    "Observation",
    "Truth",
    "check_mutations",
    "simulate",
    "union_reach",
]

_RUNS_KEPT_PER_WORLD = 4  # enough for an agent run and a baseline run on the same world


@dataclass
class Observation:
    """Everything the simulated platforms show on `as_of`, plus the hidden truth."""

    as_of: date
    entities: list[Entity]
    metrics: list[MetricRow]
    search_terms: list[SearchTermRow]
    audiences: list[Audience]
    truth: Truth
    # Logged mutations the simulated platform could not apply (unknown entity, bad params ...), with
    # the reason. They are skipped rather than raised so one bad log entry cannot stop the world.
    ignored_mutations: list[tuple[AppliedMutation, str]] = field(default_factory=list)


MutationKey = tuple[str, str, str, str, date]


@dataclass
class _Run:
    """A simulation from the world's start through `last_day` under `applied` (mutations effective by then)."""

    applied: tuple[MutationKey, ...]
    last_day: date
    state: SimState
    days: list[DayOutcome] = field(default_factory=list)
    anomalies: list[InjectedAnomaly] = field(default_factory=list)
    ignored: list[tuple[AppliedMutation, str]] = field(default_factory=list)


_runs: weakref.WeakKeyDictionary[World, list[_Run]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _key(mutation: AppliedMutation, effective: date) -> MutationKey:
    params = json.dumps(mutation.params, sort_keys=True, default=str)
    return (mutation.kind, mutation.account_id, mutation.entity_id, params, effective)


def _schedule(world: World, mutations: Sequence[AppliedMutation]) -> list[tuple[date, AppliedMutation]]:
    """Mutations in the order they act: by effective day (never before the world starts), then as given."""
    dated = [(max(m.effective_day, world.start), index, m) for index, m in enumerate(mutations)]
    return [(day, m) for day, _, m in sorted(dated, key=lambda item: (item[0], item[1]))]


def _applied_by(schedule: list[tuple[date, AppliedMutation]], day: date) -> tuple[MutationKey, ...]:
    return tuple(_key(m, effective) for effective, m in schedule if effective <= day)


def _resumable_run(world: World, schedule: list[tuple[date, AppliedMutation]], last_day: date) -> _Run:
    for run in sorted(_runs.get(world, []), key=lambda r: r.last_day, reverse=True):
        if run.last_day <= last_day and run.applied == _applied_by(schedule, run.last_day):
            return _Run(run.applied, run.last_day, run.state.copy(), list(run.days), list(run.anomalies),
                        list(run.ignored))
    return _Run((), world.start - timedelta(days=1), initial_state(world))


def _advance(world: World, run: _Run, schedule: list[tuple[date, AppliedMutation]], last_day: date) -> None:
    by_day: dict[date, list[AppliedMutation]] = {}
    for effective, mutation in schedule:
        by_day.setdefault(effective, []).append(mutation)
    day = run.last_day + timedelta(days=1)
    layout: DeliveryLayout | None = None
    while day <= last_day:
        for mutation in by_day.get(day, []):
            _apply_logged(world, run.state, mutation, day, run.ignored)
            layout = None
        if layout is None:
            layout = build_layout(world, run.state)
        outcome, anomalies = simulate_day(world, layout, day)
        run.days.append(outcome)
        run.anomalies.extend(anomalies)
        run.last_day = day
        day += timedelta(days=1)
    run.applied = _applied_by(schedule, run.last_day)


def _apply_logged(
    world: World, state: SimState, mutation: AppliedMutation, day: date, ignored: list[tuple[AppliedMutation, str]]
) -> None:
    try:
        apply_mutation(world, state, mutation, day)
    except InvalidMutation as error:
        ignored.append((mutation, str(error)))


def _remember(world: World, run: _Run, schedule: list[tuple[date, AppliedMutation]]) -> None:
    """Keep `run` for later calls, dropping runs it extends (their days are a prefix of its days)."""
    runs = [
        r for r in _runs.get(world, [])
        if not (r.last_day <= run.last_day and r.applied == _applied_by(schedule, r.last_day))
    ]
    runs.append(_Run(run.applied, run.last_day, run.state.copy(), list(run.days), list(run.anomalies),
                     list(run.ignored)))
    _runs[world] = runs[-_RUNS_KEPT_PER_WORLD:]


def check_mutations(world: World, mutations: Sequence[AppliedMutation]) -> None:
    """Raise InvalidMutation for the first mutation the simulated platform would refuse (no delivery is run)."""
    state = initial_state(world)
    for effective, mutation in _schedule(world, mutations):
        apply_mutation(world, state, mutation, effective)


def simulate(world: World, mutations: Sequence[AppliedMutation], as_of: date) -> Observation:
    """What the platforms report on `as_of` (metrics for world.start .. as_of - 1) after `mutations`.

    Mutations act on delivery from their effective day; those effective on `as_of` already show in
    the entities; later ones are not yet visible. A mutation the platform could not apply is
    skipped and listed in `Observation.ignored_mutations` (use `check_mutations` to refuse it upfront).
    """
    if as_of < world.start:
        raise ValueError(f"as_of {as_of} is before the simulated world starts ({world.start})")
    schedule = _schedule(world, mutations)
    last_day = as_of - timedelta(days=1)
    with _lock:
        run = _resumable_run(world, schedule, last_day)
        if run.last_day < last_day:
            _advance(world, run, schedule, last_day)
            _remember(world, run, schedule)
        view = run.state.copy()
        ignored = list(run.ignored)
        for effective, mutation in schedule:
            if run.last_day < effective <= as_of:
                _apply_logged(world, view, mutation, effective, ignored)
        metrics, search_terms = build_metric_rows(world, run.days, as_of)
        silent = {a.account_id for a in world.accounts if not a.spec.reports_value}
        if silent:  # lead gen: the platform counts leads and reports no value for them
            metrics = [dataclasses.replace(m, conversion_value=Decimal(0)) if m.account_id in silent else m
                       for m in metrics]
        return Observation(
            as_of=as_of,
            entities=build_entities(world, view, as_of),
            metrics=metrics,
            search_terms=search_terms,
            audiences=build_audiences(world),
            truth=compute_truth(world, view, as_of, run.anomalies),
            ignored_mutations=ignored,
        )

