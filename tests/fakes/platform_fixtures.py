"""What the three fake platform servers share: the simulator behind them, id mapping, request
counting, latency, a concurrency limit and scripted faults.

Each fake translates between its platform's wire format and a `SimulatorConnector`, so what the
agent changes through a real SDK shows up in the simulated world (and in its metrics on later days).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool

from connectors.records import Entity, Mutation, MutationResult
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec


def make_simulator(specs: Sequence[SimAccountSpec], now: Callable[[], datetime], *, engine: Engine | None = None,
                   seed: int = 7, history_days: int = 30) -> SimulatorConnector:
    """A simulator on `engine`, or on a private in-memory SQLite database."""
    if engine is None:
        engine = sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    return SimulatorConnector(engine, specs, seed=seed, history_days=history_days, now=now)


class IdMap:
    """Simulator ids (strings such as `acct-c1-s2`) <-> the platform's numeric ids, stable per run."""

    def __init__(self, start: int = 10_000_001) -> None:
        self._next = itertools.count(start)
        self._numeric: dict[str, int] = {}
        self._sim: dict[int, str] = {}
        self._lock = threading.Lock()

    def numeric(self, sim_id: str) -> int:
        with self._lock:
            if sim_id not in self._numeric:
                number = next(self._next)
                self._numeric[sim_id] = number
                self._sim[number] = sim_id
            return self._numeric[sim_id]

    def sim(self, numeric: int | str) -> str | None:
        try:
            key = int(numeric)
        except (TypeError, ValueError):
            return None
        with self._lock:
            return self._sim.get(key)


@dataclass
class Fault:
    """A scripted failure: `kind` (rate_limit, server_error, unavailable, timeout, auth, malformed_row,
    truncated_page, partial_failure, ...) for requests whose kind starts with `match`.

    Write faults every fake understands: `slow_answer` (applied, answered after `seconds`: longer
    than the client's timeout), `drop_answer` (applied, then the connection is closed unanswered),
    `hold` (the request waits for `release` after setting `arrived`, two threading.Events; then it
    is handled normally, and sets `done`, if given, once applied): see `before_write` / `after_write`."""

    kind: str
    match: str = ""
    remaining: int = 1
    params: dict[str, Any] = field(default_factory=dict)


class Faults:
    """Faults consumed in order by matching requests (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, kind: str, match: str = "", times: int = 1, **params: Any) -> None:
        with self._lock:
            self._faults.append(Fault(kind, match, times, params))

    def take(self, request_kind: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and request_kind.startswith(fault.match):
                    fault.remaining -= 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def unused(self) -> int:
        """How many injected faults have not fired yet."""
        with self._lock:
            return sum(fault.remaining for fault in self._faults)


def before_write(fault: Fault | None) -> None:
    """A `hold` fault: tell the test the write has arrived, and wait until it lets it go on."""
    if fault is not None and fault.kind == "hold":
        fault.params["arrived"].set()
        fault.params["release"].wait(timeout=30)


def after_write(fault: Fault | None) -> bool:
    """Once a write is applied: a `slow_answer` waits `seconds` before answering; True if the answer
    is to be dropped (`drop_answer`)."""
    if fault is not None and fault.kind == "slow_answer":
        time.sleep(float(fault.params.get("seconds", 1.0)))
    if fault is not None and fault.kind == "hold" and "done" in fault.params:
        fault.params["done"].set()
    return fault is not None and fault.kind == "drop_answer"


class Traffic:
    """Request counts by kind, simulated latency and a concurrency limit with violation counts; the
    highest usage a fake reported and the calls it refused for usage (fakes that model usage)."""

    def __init__(self, latency: float = 0.0, concurrency_limit: int | None = None) -> None:
        self.latency = latency
        self.concurrency_limit = concurrency_limit
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.violations = 0
        self.refused: Counter[str] = Counter()  # calls the fake refused for its usage limits, by limit
        self.peak_usage = 0.0  # the highest usage percent the fake reported in its answers
        self._lock = threading.Lock()

    def arrive(self, kind: str) -> None:
        """Count a request that has just arrived: one more in flight (a violation past the limit)."""
        with self._lock:
            self.counts[kind] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.concurrency_limit is not None and self.in_flight > self.concurrency_limit:
                self.violations += 1

    @contextmanager
    def request(self, kind: str, arrived: float | None = None) -> Iterator[None]:
        """One request of `kind` in flight for the block; `arrived`: when it reached the server, if the
        server knows (tests/fakes/arrivals.py; `TimedTraffic` counts quotas and latency from it)."""
        self.arrive(kind)
        try:
            if self.latency:
                time.sleep(self.latency)
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def count_inner(self, kind: str) -> None:
        """Count a call carried inside another request (a Meta batch item): it is not one more
        request in flight, so it does not touch the concurrency count."""
        with self._lock:
            self.counts[kind] += 1

    def usage(self, percent: float, refused: str | None = None) -> None:
        """Note the usage a fake reported in an answer, and the limit it refused the call for, if any."""
        with self._lock:
            self.peak_usage = max(self.peak_usage, percent)
            if refused is not None:
                self.refused[refused] += 1

    def count(self, prefix: str = "") -> int:
        with self._lock:
            return sum(n for kind, n in self.counts.items() if kind.startswith(prefix))

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.max_in_flight = 0
            self.violations = 0
            self.refused.clear()
            self.peak_usage = 0.0


class SimBackend:
    """The simulator behind a fake, serialized (the platform side is not what is being tested),
    with the mapping from platform account ids to simulator account ids."""

    def __init__(self, simulator: SimulatorConnector, accounts: dict[str, str]) -> None:
        self.simulator = simulator
        self.accounts = accounts  # platform account id -> simulator account id
        self.lock = threading.RLock()
        self._keys = itertools.count(1)

    def sim_account(self, platform_account: str) -> str | None:
        return self.accounts.get(platform_account)

    def entities(self, sim_account: str) -> list[Entity]:
        with self.lock:
            return list(self.simulator.entities(sim_account))

    def apply(self, sim_account: str, mutations: Sequence[tuple[str, str, dict[str, Any]]], prefix: str,
              validate_only: bool = False) -> list[MutationResult]:
        """Apply (kind, entity id, params) triples in one simulator call; `validate_only` checks only."""
        with self.lock:
            batch = [Mutation(kind, sim_account, entity_id, params, f"{prefix}-{next(self._keys)}")  # type: ignore[arg-type]
                     for kind, entity_id, params in mutations]
            if validate_only:
                return [MutationResult(m.idempotency_key, ok=error is None, error=error)
                        for m in batch for error in [self.simulator._validate(sim_account, m)]]
            return list(self.simulator.apply(sim_account, batch))
