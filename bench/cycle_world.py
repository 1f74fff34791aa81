"""The bench's simulated portfolio: accounts spread over Google Ads, Meta and LinkedIn, a fake
server per platform (in the bench's process or each in a process of its own) over one simulated
world per account, and the agent's config and connectors wired to them.

Used by bench/cycle.py (the runner), bench/requests.py, bench/worker_costs.py and the Celery
worker mode (bench/cycle_workers.py).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import grpc
from sqlalchemy import Engine

from agent.bootstrap import account_as_mapping
from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle.concurrency import engine_pool_size
from bench.common import migrated_engine, sqlite_database
from connectors.base import Connector
from connectors.connector_options import ConnectorOptions
from connectors.google_ads.connector import GoogleAdsConnector, GoogleAdsOptions
from connectors.linkedin.connector import LinkedInConnector, LinkedInOptions
from connectors.meta.connector import MetaConnector, MetaOptions
from connectors.records import (
    AccountInfo,
    Audience,
    Entity,
    MetricRow,
    Mutation,
    MutationResult,
    SearchTermRow,
)
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.segments import Exclusions
from connectors.simulator.world import SimAccountSpec
from tests.fakes.google_ads_server import FakeGoogleAds
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.meta_server import FakeMeta
from tests.fakes.meta_usage import LoadUsage, ads_management_allowance
from tests.fakes.platform_fixtures import SimBackend, Traffic, make_simulator

TODAY = date(2026, 11, 23)
PLATFORMS = ("google_ads", "meta", "linkedin")
CURRENCY = {"google_ads": ("USD", "America/New_York"), "meta": ("EUR", "Europe/Berlin"),
            "linkedin": ("GBP", "Europe/London")}
TOKENS = {"GADS_DEV_TOKEN": "dev-token", "META_TOKEN": "meta-token", "LINKEDIN_TOKEN": "li-token"}


INNER_KINDS = ("batch:",)  # calls carried inside another request (Meta batch items): not on the wire themselves


def wire_requests(counts: Counter[str]) -> int:
    """Requests that each took a trip to the platform (and a slot of its concurrency)."""
    return sum(n for kind, n in counts.items() if not kind.startswith(INNER_KINDS))


@dataclass(frozen=True)
class WorldSize:
    """How many accounts, how big each one is, and how far back the first pull reaches."""

    accounts: int
    campaigns: int = 2
    ad_sets_per_campaign: int = 2
    ads_per_ad_set: int = 2
    history_days: int = 40
    initial_history_days: int = 28
    requests_per_second: float = 0.0  # each platform's per-second quota: the agent's setting, the fakes count
    # requests started past it within any second as violations (0: no quota)


# Meta's usage per ad account (tests/fakes/meta_usage.py): the ads_management allowance of the
# standard tier (labelled "Full access" since May 2026; "development", "Limited access", starts at 300
# calls an hour instead of 100,000) for the accounts' active ads, over the hour compressed 60 times (a
# 60 s window, the allowance x 60 / 3600): the same rate of calls. A cycle lasting under a minute
# reads as its pace kept up for a whole hour, which an hourly schedule does not do: for cycles shorter
# than the hour the percent is an upper bound.
META_TIER = "standard"
META_USAGE_WINDOW = 60.0


def meta_usage_for(active_ads: int) -> LoadUsage:
    """The load-driven usage of the bench's Meta fake, for ad accounts of `active_ads` active ads each."""
    return LoadUsage(ads_management_allowance(active_ads, META_TIER, META_USAGE_WINDOW), window=META_USAGE_WINDOW,
                     tier=META_TIER)


@dataclass
class Harness:
    """The agent's engine, config and connectors, wired to three fake platforms over one world."""

    engine: Engine
    config: AgentConfig
    clock: FixedClock
    connectors: dict[str, Connector]
    simulator: SimulatorConnector  # a WorldPerAccount (or RemoteMutationLog): mutation_log() shows what was applied
    traffic: dict[str, Any]  # a Traffic per platform (or the PlatformProcess that reports its figures)
    specs: list[SimAccountSpec]
    servers: dict[str, Any]  # the fakes, for their request logs (in-process fakes only)

    def platform_of(self, account_id: str) -> str:
        return self.config.account(account_id).platform

    def counts(self) -> dict[str, Counter[str]]:
        return {platform: Counter(traffic.counts) for platform, traffic in self.traffic.items()}


def _platform_ids(platform: str, index: int) -> dict[str, str]:
    if platform == "google_ads":
        return {"developer_token": "${GADS_DEV_TOKEN}", "customer_id": str(1_000_000_000 + index)}
    if platform == "meta":
        return {"access_token": "${META_TOKEN}", "app_secret": "s3cret", "ad_account_id": f"act_{500_000 + index}"}
    return {"access_token": "${LINKEDIN_TOKEN}", "ad_account_id": str(700_000 + index)}


def specs_for(size: WorldSize) -> list[SimAccountSpec]:
    specs = []
    for index in range(size.accounts):
        platform = PLATFORMS[index % len(PLATFORMS)]
        currency, timezone = CURRENCY[platform]
        # fixed width: the fake LinkedIn finds an audience's account by id prefix ("sim-2" would
        # claim "sim-20-aud8"), so no account id may be a prefix of another's
        specs.append(SimAccountSpec(f"sim-{index:05d}", platform, f"Bench {index}", currency, timezone,
                                    size.campaigns, size.ad_sets_per_campaign, size.ads_per_ad_set))
    return specs


def config_for(database_url: str, specs: list[SimAccountSpec], size: WorldSize, concurrency: int) -> AgentConfig:
    """Pauses and budget changes on `auto`, so the cycle executes (drift reads and mutations included)."""
    return parse_config(config_dict(database_url, specs, size, concurrency), environ=TOKENS)


def config_dict(database_url: str, specs: list[SimAccountSpec], size: WorldSize, concurrency: int) -> dict[str, Any]:
    """The config `config_for` parses, as it would be written to a file (for Celery workers)."""
    accounts = []
    for index, spec in enumerate(specs):
        currency, timezone = CURRENCY[spec.platform]
        accounts.append({"id": f"acct-{index}", "platform": spec.platform, "currency": currency,
                         "timezone": timezone, "credentials": _platform_ids(spec.platform, index)})
    return {
        "database_url": database_url,
        "initial_history_days": size.initial_history_days,
        "execution": {"max_concurrency_per_platform": dict.fromkeys(PLATFORMS, concurrency),
                      **({"requests_per_second": dict.fromkeys(PLATFORMS, size.requests_per_second)}
                         if size.requests_per_second else {})},
        "defaults": {"permissions": {"pause": "auto", "set_budget": "auto"},
                     "guardrails": {"max_actions_per_cycle": 50}},
        "accounts": accounts,
    }


def connectors_for(config: AgentConfig, now: Callable[[], datetime], options: ConnectorOptions) -> dict[str, Connector]:
    """The three real connectors with `options` (where the fakes listen, retries without sleeping)."""
    classes: dict[str, Any] = {"google_ads": GoogleAdsConnector, "meta": MetaConnector, "linkedin": LinkedInConnector}
    connectors: dict[str, Connector] = {}
    for platform, factory in classes.items():
        accounts = [account_as_mapping(a) for a in config.accounts if a.platform == platform]
        if accounts:
            context = ConnectorContext(platform=platform, accounts=accounts, settings={},
                                       database_url=config.database_url.get_secret_value(), now=now,
                                       options=options)
            connectors[platform] = factory.from_context(context)
    return connectors


@contextmanager
def harness(size: WorldSize, *, latency: float, concurrency: int, database_url: str | None = None,
            seed: int = 11, platform_processes: bool = False) -> Iterator[Harness]:
    """Fake servers up, agent database migrated, connectors built; everything torn down after.

    `platform_processes`: run each platform's fake server (and the simulator behind it) in a
    process of its own, as a real platform runs on machines of its own. In the agent's process the
    fakes' CPU work (building protos and JSON, simulating, serving HTTP) competes with the agent
    for the GIL and is measured as the agent's time; in-process fakes keep their request logs
    readable (`bench/requests.py`).
    """
    specs = specs_for(size)
    clock = FixedClock.at_day(TODAY, hour=12)
    with ExitStack() as stack:
        if database_url is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            database_url = stack.enter_context(sqlite_database(directory))
        config = config_for(database_url, specs, size, concurrency)
        engine = migrated_engine(database_url, pool_size=engine_pool_size(config))  # as `run` sizes it
        stack.callback(engine.dispose)
        if platform_processes:
            remotes = {platform: stack.enter_context(PlatformProcess(platform, size, latency, concurrency, seed))
                       for platform in PLATFORMS}
            for remote in remotes.values():
                remote.wait_ready()
            traffic: dict[str, Any] = dict(remotes)
            simulator = cast(SimulatorConnector, RemoteMutationLog(list(remotes.values())))
            servers: dict[str, Any] = dict(remotes)
            addresses = {platform: remote.address for platform, remote in remotes.items()}
        else:
            fakes = stack.enter_context(_fake_platforms(specs, size, latency, concurrency, seed, clock))
            traffic = {platform: fake.traffic for platform, fake in fakes.servers.items()}
            simulator, servers, addresses = fakes.simulator, dict(fakes.servers), fakes.addresses
        google_address = addresses["google_ads"]
        options = ConnectorOptions(retry_policy=RetryPolicy(sleep=lambda _s: None, rng=random.Random(0)), tuning=(
            GoogleAdsOptions(channel_factory=lambda: grpc.insecure_channel(google_address)),
            MetaOptions(graph_url=addresses["meta"]), LinkedInOptions(base_url=addresses["linkedin"])))
        connectors = connectors_for(config, clock.now, options)
        yield Harness(engine, config, clock, connectors, simulator, traffic, specs, servers)


class TimedTraffic(Traffic):
    """`Traffic` whose requests are answered `latency` after they arrive, the fake's own work included.

    `Traffic` sleeps the latency and only then lets the fake simulate and build its answer, so a
    request took latency + the fake's work (on Google, proto rows: 20-80 ms more per request, more
    when the fakes compete with the agent for the CPUs). That extra is the harness's time, not the
    agent's, yet the bound cannot count it. Here the work is done first and the rest of the latency
    slept after it, still in flight (the concurrency count covers the whole request). Also adds up
    the time requests spend in flight, to show that the model holds. `on_reset` is what else a reset
    empties: measured cycles are an hour apart in the simulated world, so Meta's usage window too.
    """

    def __init__(self, latency: float = 0.0, concurrency_limit: int | None = None, per_second: float = 0.0,
                 on_reset: Callable[[], None] | None = None) -> None:
        super().__init__(latency, concurrency_limit)
        self._on_reset = on_reset
        self.seconds_in_flight = 0.0
        self.answered = 0
        self.per_second = per_second
        self.rate_violations = 0
        self._starts: deque[float] = deque()
        # when requests started and the last ended (perf_counter: one clock for every process of the machine)
        self.start_times: list[float] = []
        self.last_end: float | None = None

    @contextmanager
    def request(self, kind: str, arrived: float | None = None) -> Iterator[None]:
        # from when the request reached the server's socket, where the fake knows it: a platform
        # counts its quota at its front door, and the client waits from then (tests/fakes/arrivals.py)
        started = time.perf_counter() if arrived is None else min(arrived, time.perf_counter())
        with self._lock:
            self.start_times.append(started)
        self.arrive(kind)
        if self.per_second:
            with self._lock:  # requests started within the last second, this one included
                while self._starts and self._starts[0] <= started - 1.0:
                    self._starts.popleft()
                self._starts.append(started)
                if len(self._starts) > self.per_second:
                    self.rate_violations += 1
        try:
            yield
            remaining = self.latency - (time.perf_counter() - started)
            if remaining > 0:
                time.sleep(remaining)
        finally:
            with self._lock:
                self.in_flight -= 1
                self.last_end = time.perf_counter()
                self.seconds_in_flight += self.last_end - started
                self.answered += 1

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.seconds_in_flight = 0.0
            self.answered = self.rate_violations = 0
            self._starts.clear()
            self.start_times = []
            self.last_end = None
        if self._on_reset is not None:
            self._on_reset()

    def stats(self) -> dict[str, Any]:
        """The figures, as a `PlatformProcess` gives them (without its process CPU)."""
        return self.figures()

    def figures(self) -> dict[str, Any]:
        with self._lock:
            return {"counts": dict(self.counts), "max_in_flight": self.max_in_flight, "violations": self.violations,
                    "seconds_in_flight": self.seconds_in_flight, "answered": self.answered,
                    "rate_violations": self.rate_violations, "start_times": list(self.start_times),
                    "last_end": self.last_end, "peak_usage": self.peak_usage, "refused": dict(self.refused)}


@dataclass
class FakePlatforms:
    """Fake servers of some platforms over one `WorldPerAccount`, and where each one listens."""

    simulator: SimulatorConnector
    servers: dict[str, Any]
    addresses: dict[str, str]  # platform -> gRPC target (Google) or base URL (Meta, LinkedIn)


@contextmanager
def _fake_platforms(specs: list[SimAccountSpec], size: WorldSize, latency: float, concurrency: int, seed: int,
                    clock: FixedClock, platforms: Sequence[str] = PLATFORMS) -> Iterator[FakePlatforms]:
    """The fakes of `platforms`, serving the accounts of `specs` that are on them."""
    ours = [(index, spec) for index, spec in enumerate(specs) if spec.platform in platforms]
    world = WorldPerAccount([spec for _index, spec in ours], clock.now, seed, size.history_days)
    simulator = cast(SimulatorConnector, world)  # duck-typed: the fakes call only what it has
    by_platform: dict[str, dict[str, str]] = {platform: {} for platform in platforms}
    for index, spec in ours:
        by_platform[spec.platform][_platform_ids(spec.platform, index)["customer_id" if spec.platform ==
                                   "google_ads" else "ad_account_id"]] = spec.account_id
    servers: dict[str, Any] = {}
    addresses: dict[str, str] = {}
    ads_per_account = size.campaigns * size.ad_sets_per_campaign * size.ads_per_ad_set  # each one active
    with ExitStack() as stack:
        for platform in platforms:
            meta_usage = meta_usage_for(ads_per_account) if platform == "meta" else None
            traffic = TimedTraffic(latency=latency, concurrency_limit=concurrency, per_second=size.requests_per_second,
                                   on_reset=meta_usage.clear if meta_usage else None)
            backend = SimBackend(simulator, by_platform[platform])
            if platform == "google_ads":
                # The gRPC server needs a worker per request in flight, or it queues them itself.
                google = stack.enter_context(FakeGoogleAds(backend, developer_token="dev-token", traffic=traffic,
                                                           workers=max(16, 2 * concurrency)))
                servers[platform], addresses[platform] = google, f"127.0.0.1:{google.port}"
            elif platform == "meta":
                meta = stack.enter_context(FakeMeta(backend, access_token="meta-token", traffic=traffic,
                                                    usage=meta_usage))
                servers[platform], addresses[platform] = meta, meta.url
            else:
                linkedin = stack.enter_context(FakeLinkedIn(backend, access_token="li-token", traffic=traffic))
                servers[platform], addresses[platform] = linkedin, linkedin.url
        yield FakePlatforms(simulator, servers, addresses)


def _serve_platform(platform: str, size: WorldSize, latency: float, concurrency: int, seed: int,
                    connection: Connection) -> None:
    """A platform process: serve one platform's fake and answer the harness's questions until told to stop."""
    clock = FixedClock.at_day(TODAY, hour=12)
    with _fake_platforms(specs_for(size), size, latency, concurrency, seed, clock, (platform,)) as fakes:
        traffic: TimedTraffic = fakes.servers[platform].traffic
        connection.send(fakes.addresses[platform])
        cpu_since_reset = time.process_time()
        while True:
            command = connection.recv()
            if command == "stats":
                connection.send({**traffic.figures(), "cpu_seconds": time.process_time() - cpu_since_reset})
            elif command == "reset":
                traffic.reset()
                cpu_since_reset = time.process_time()
                connection.send(None)
            elif command == "mutation_log":
                connection.send(fakes.simulator.mutation_log())
            else:
                connection.send(None)
                return


class PlatformProcess:
    """One platform's fake server in a child process, with the `Traffic` figures the bench reads.

    Spawned, not forked: the parent may already hold gRPC state, which does not survive a fork.
    """

    def __init__(self, platform: str, size: WorldSize, latency: float, concurrency: int, seed: int) -> None:
        self.platform = platform
        self._connection, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve_platform, args=(platform, size, latency, concurrency, seed, child),
            name=f"fake-{platform}", daemon=True)
        self._lock = threading.Lock()
        self.address = ""

    def __enter__(self) -> PlatformProcess:
        self._process.start()
        return self

    def wait_ready(self) -> None:
        """Block until the child listens (it builds its simulated worlds first)."""
        if not self.address:
            self.address = str(self._ask(None))

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._ask("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def _ask(self, command: str | None) -> Any:
        with self._lock:
            if command is not None:
                self._connection.send(command)
            return self._connection.recv()

    # -- what the bench reads from a `Traffic` --------------------------------------------------

    def reset(self) -> None:
        self._ask("reset")

    @property
    def counts(self) -> Counter[str]:
        return Counter(self._ask("stats")["counts"])

    def count(self, prefix: str = "") -> int:
        return sum(n for kind, n in self.counts.items() if kind.startswith(prefix))

    @property
    def max_in_flight(self) -> int:
        return int(self._ask("stats")["max_in_flight"])

    @property
    def violations(self) -> int:
        return int(self._ask("stats")["violations"])

    @property
    def seconds_in_flight(self) -> float:
        return float(self._ask("stats")["seconds_in_flight"])

    def stats(self) -> dict[str, Any]:
        """Every figure at once: counts, in flight, violations (both kinds), time answered, CPU."""
        return dict(self._ask("stats"))

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the platform's process since the last reset."""
        return float(self._ask("stats")["cpu_seconds"])

    def mutation_log(self) -> list[dict[str, Any]]:
        return list(self._ask("mutation_log"))


class RemoteMutationLog:
    """`mutation_log()` over the worlds of every platform process."""

    def __init__(self, processes: list[PlatformProcess]) -> None:
        self._processes = processes

    def mutation_log(self) -> list[dict[str, Any]]:
        return [row for process in self._processes for row in process.mutation_log()]


class WorldPerAccount:
    """What the fake servers need from a simulator, served by one small simulator per account.

    One shared world re-simulates every account after any mutation (its cache is keyed by the
    mutation count), which makes the platform side quadratic in accounts and would be measured as
    the agent's time. Accounts draw from their own random streams, so a world per account is the
    same world; a mutation then costs only its own account's re-simulation.
    """

    def __init__(self, specs: list[SimAccountSpec], now: Callable[[], datetime], seed: int, history_days: int) -> None:
        self._now = now
        self._seed = seed
        self._by_account = {spec.account_id: make_simulator([spec], now, seed=seed, history_days=history_days)
                            for spec in specs}
        # Simulate each world now: a platform's data already exists when the agent asks for it, and
        # simulating it on the first request would be measured as that request's latency.
        for account_id, simulator in self._by_account.items():
            simulator.observe(account_id)

    def _one(self, account_id: str) -> SimulatorConnector:
        return self._by_account[account_id]

    @property
    def seed(self) -> int:
        """The seed every account's world was made with (the fakes' breakdown reports draw from it)."""
        return self._seed

    def accounts(self) -> list[AccountInfo]:
        return [info for simulator in self._by_account.values() for info in simulator.accounts()]

    def entities(self, account_id: str, entity_ids: Sequence[str] | None = None) -> Sequence[Entity]:
        return self._one(account_id).entities(account_id, entity_ids)

    def daily_metrics(self, account_id: str, start: date, end: date) -> Iterable[MetricRow]:
        return self._one(account_id).daily_metrics(account_id, start, end)

    def search_terms(self, account_id: str, start: date, end: date) -> Iterable[SearchTermRow]:
        return self._one(account_id).search_terms(account_id, start, end)

    def audiences(self, account_id: str) -> Sequence[Audience]:
        return self._one(account_id).audiences(account_id)

    def local_today(self, account_id: str) -> date:
        return self._one(account_id).local_today(account_id)

    def intraday_metrics(self, account_id: str, day: date) -> Iterable[MetricRow]:
        return self._one(account_id).intraday_metrics(account_id, day)

    def segment_exclusions(self) -> Exclusions:
        """Every account's exclusions (ad set ids are unique across the accounts' worlds)."""
        each = [simulator.segment_exclusions() for simulator in self._by_account.values()]

        def excluded(ad_set_id: str, dimension: str, day: date) -> Collection[str]:
            return next((found for one in each if (found := one(ad_set_id, dimension, day))), frozenset())
        return excluded

    def estimate_reach(self, account_id: str, audience_ids: Sequence[str]) -> int:
        return self._one(account_id).estimate_reach(account_id, audience_ids)

    def apply(self, account_id: str, mutations: Sequence[Mutation]) -> Sequence[MutationResult]:
        return self._one(account_id).apply(account_id, mutations)

    def _validate(self, account_id: str, mutation: Mutation) -> str | None:
        return self._one(account_id)._validate(account_id, mutation)

    def mutation_log(self) -> list[dict[str, Any]]:
        return [row for simulator in self._by_account.values() for row in simulator.mutation_log()]
