"""A full cycle through the real connectors against fake platforms with a fixed latency per request.

    python bench/cycle.py [--accounts 200] [--latency-ms 100] [--concurrency 4] [--campaigns 2 ...]

The three fake servers (`tests/fakes/`, real SDKs on the wire) answer every request after
`--latency-ms` and count a violation whenever more than `--concurrency` requests of one platform are
in flight; the agent is configured with the same `execution.max_concurrency_per_platform`. Accounts
are spread evenly over Google Ads, Meta and LinkedIn.

Lower bound: platforms are independent, so the cycle cannot finish before the busiest platform has
served its requests at full concurrency: max over platforms of ceil(requests / concurrency) x
latency, with the requests the cycle actually made (`bench/requests.py` checks that they are the
requests needed). Targets: cycle time <= 1.3x the bound, zero violations.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

if __package__ in (None, ""):  # run as `python bench/<name>.py`: import from the repository, and keep
    import sys  # bench/ itself off the path (bench/requests.py would shadow the `requests` library)

    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.config import AgentConfig, parse_config
from agent.cycle import CycleSummary, account_as_mapping, run_cycle
from bench.common import Figure, Report, migrated_engine, sqlite_database, timed
from connectors.base import (
    AccountInfo,
    Audience,
    Connector,
    Entity,
    MetricRow,
    Mutation,
    MutationResult,
    SearchTermRow,
)
from connectors.google_ads import GoogleAdsConnector
from connectors.linkedin import LinkedInConnector
from connectors.meta import MetaConnector
from connectors.registry import ConnectorContext
from connectors.retry import RetryPolicy
from connectors.simulator.connector import SimulatorConnector
from connectors.simulator.world import SimAccountSpec
from tests.fakes.google_ads_server import FakeGoogleAds
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.meta_server import FakeMeta
from tests.fakes.platform_fixtures import SimBackend, Traffic, make_simulator

TODAY = date(2026, 11, 23)
PLATFORMS = ("google_ads", "meta", "linkedin")
CURRENCY = {"google_ads": ("USD", "America/New_York"), "meta": ("EUR", "Europe/Berlin"),
            "linkedin": ("GBP", "Europe/London")}
TOKENS = {"GADS_DEV_TOKEN": "dev-token", "META_TOKEN": "meta-token", "LINKEDIN_TOKEN": "li-token"}


@dataclass(frozen=True)
class WorldSize:
    """How many accounts, how big each one is, and how far back the first pull reaches."""

    accounts: int
    campaigns: int = 2
    ad_sets_per_campaign: int = 2
    ads_per_ad_set: int = 2
    history_days: int = 40
    initial_history_days: int = 28


@dataclass
class Harness:
    """The agent's engine, config and connectors, wired to three fake platforms over one world."""

    engine: Engine
    config: AgentConfig
    clock: FixedClock
    connectors: dict[str, Connector]
    simulator: SimulatorConnector  # a WorldPerAccount: mutation_log() shows what was applied
    traffic: dict[str, Traffic]
    specs: list[SimAccountSpec]
    servers: dict[str, Any]  # the fakes, for their request logs

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
    accounts = []
    for index, spec in enumerate(specs):
        currency, timezone = CURRENCY[spec.platform]
        accounts.append({"id": f"acct-{index}", "platform": spec.platform, "currency": currency,
                         "timezone": timezone, "credentials": _platform_ids(spec.platform, index)})
    return parse_config({
        "database_url": database_url,
        "initial_history_days": size.initial_history_days,
        "execution": {"max_concurrency_per_platform": dict.fromkeys(PLATFORMS, concurrency)},
        "defaults": {"permissions": {"pause": "auto", "set_budget": "auto"},
                     "guardrails": {"max_actions_per_cycle": 50}},
        "accounts": accounts,
    }, environ=TOKENS)


def _connectors(config: AgentConfig, clock: FixedClock, options: dict[str, Any]) -> dict[str, Connector]:
    classes: dict[str, Any] = {"google_ads": GoogleAdsConnector, "meta": MetaConnector, "linkedin": LinkedInConnector}
    connectors: dict[str, Connector] = {}
    for platform, factory in classes.items():
        accounts = [account_as_mapping(a) for a in config.accounts if a.platform == platform]
        if accounts:
            context = ConnectorContext(platform=platform, accounts=accounts, settings={},
                                       database_url=config.database_url.get_secret_value(), now=clock.now,
                                       options=options)
            connectors[platform] = factory.from_context(context)
    return connectors


@contextmanager
def harness(size: WorldSize, *, latency: float, concurrency: int, database_url: str | None = None,
            seed: int = 11) -> Iterator[Harness]:
    """Fake servers up, agent database migrated, connectors built; everything torn down after."""
    specs = specs_for(size)
    clock = FixedClock.at_day(TODAY, hour=12)
    with ExitStack() as stack:
        if database_url is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            database_url = stack.enter_context(sqlite_database(directory))
        config = config_for(database_url, specs, size, concurrency)
        engine = migrated_engine(database_url)
        stack.callback(engine.dispose)
        world = WorldPerAccount(specs, clock.now, seed, size.history_days)
        simulator = cast(SimulatorConnector, world)  # duck-typed: the fakes call only what it has
        by_platform: dict[str, dict[str, str]] = {platform: {} for platform in PLATFORMS}
        for index, spec in enumerate(specs):
            by_platform[spec.platform][_platform_ids(spec.platform, index)["customer_id" if spec.platform ==
                                       "google_ads" else "ad_account_id"]] = spec.account_id
        traffic = {platform: Traffic(latency=latency, concurrency_limit=concurrency) for platform in PLATFORMS}
        backends = {platform: SimBackend(simulator, accounts) for platform, accounts in by_platform.items()}
        # The gRPC server needs a worker per request in flight, or it queues them itself.
        google = stack.enter_context(FakeGoogleAds(backends["google_ads"], developer_token="dev-token",
                                                   traffic=traffic["google_ads"], workers=max(16, 2 * concurrency)))
        meta = stack.enter_context(FakeMeta(backends["meta"], access_token="meta-token", traffic=traffic["meta"]))
        linkedin = stack.enter_context(FakeLinkedIn(backends["linkedin"], access_token="li-token",
                                                    traffic=traffic["linkedin"]))
        options: dict[str, Any] = {
            "retry_policy": RetryPolicy(sleep=lambda _s: None, rng=random.Random(0)),
            "google_ads_channel_factory": google.channel_factory(),
            "meta_graph_url": meta.url,
            "linkedin_base_url": linkedin.url,
        }
        connectors = _connectors(config, clock, options)
        yield Harness(engine, config, clock, connectors, simulator, traffic, specs,
                      {"google_ads": google, "meta": meta, "linkedin": linkedin})


class WorldPerAccount:
    """What the fake servers need from a simulator, served by one small simulator per account.

    One shared world re-simulates every account after any mutation (its cache is keyed by the
    mutation count), which makes the platform side quadratic in accounts and would be measured as
    the agent's time. Accounts draw from their own random streams, so a world per account is the
    same world; a mutation then costs only its own account's re-simulation.
    """

    def __init__(self, specs: list[SimAccountSpec], now: Callable[[], datetime], seed: int, history_days: int) -> None:
        self._now = now
        self._by_account = {spec.account_id: make_simulator([spec], now, seed=seed, history_days=history_days)
                            for spec in specs}

    def _one(self, account_id: str) -> SimulatorConnector:
        return self._by_account[account_id]

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

    def estimate_reach(self, account_id: str, audience_ids: Sequence[str]) -> int:
        return self._one(account_id).estimate_reach(account_id, audience_ids)

    def apply(self, account_id: str, mutations: Sequence[Mutation]) -> Sequence[MutationResult]:
        return self._one(account_id).apply(account_id, mutations)

    def _validate(self, account_id: str, mutation: Mutation) -> str | None:
        return self._one(account_id)._validate(account_id, mutation)

    def mutation_log(self) -> list[dict[str, Any]]:
        return [row for simulator in self._by_account.values() for row in simulator.mutation_log()]


def lower_bound(counts: dict[str, int], concurrency: int, latency: float) -> float:
    """The busiest platform's requests served `concurrency` at a time, each taking `latency`."""
    return max((math.ceil(n / concurrency) * latency for n in counts.values()), default=0.0)


@dataclass
class CycleRun:
    """One cycle's summary and timing, split where `run_cycle` says it starts executing."""

    summary: CycleSummary
    seconds: float
    pull_seconds: float  # pull + evaluate + gate of every account (the parallel part)
    pull_counts: dict[str, int]  # requests per platform made before execution started
    counts: dict[str, Counter[str]]  # requests per platform and kind over the whole cycle


def run_once(h: Harness) -> CycleRun:
    for traffic in h.traffic.values():
        traffic.reset()
    marks: dict[str, Any] = {}

    def progress(message: str) -> None:
        if message == "executing approved actions":
            marks["pull_seconds"] = elapsed()
            marks["pull_counts"] = {p: t.count() for p, t in h.traffic.items()}

    with timed() as elapsed:
        summary = run_cycle(h.engine, h.config, h.connectors, h.clock, progress=progress)
    counts = h.counts()
    totals = {p: sum(c.values()) for p, c in counts.items()}
    return CycleRun(summary, elapsed(), marks.get("pull_seconds", elapsed()), marks.get("pull_counts", totals),
                    counts)


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=4, help="per platform: agent limit = server limit")
    parser.add_argument("--campaigns", type=int, default=2)
    parser.add_argument("--ad-sets-per-campaign", type=int, default=2)
    parser.add_argument("--ads-per-ad-set", type=int, default=2)
    args = parser.parse_args(argv)
    size = WorldSize(args.accounts, args.campaigns, args.ad_sets_per_campaign, args.ads_per_ad_set)
    latency = args.latency_ms / 1000
    report = Report(f"cycle: {args.accounts} accounts, {args.latency_ms:g} ms per request, "
                    f"{args.concurrency} in flight per platform")
    with harness(size, latency=latency, concurrency=args.concurrency) as h:
        run = run_once(h)
        summary, seconds = run.summary, run.seconds
        counts = {platform: sum(c.values()) for platform, c in run.counts.items()}
        bound = lower_bound(counts, args.concurrency, latency)
        execute_counts = {p: counts[p] - run.pull_counts.get(p, 0) for p in counts}
        print(f"    accounts {summary.accounts} (failed {summary.accounts_failed}), rows {summary.metric_rows_upserted:,},"
              f" execution {dict(summary.execution)}, requests {counts}", flush=True)
        for error in summary.errors[:5]:
            print(f"    error: {error}")
        report.add(Figure("full cycle vs max(requests/concurrency) x latency", seconds, "s", limit=bound,
                          target=1.3))
        report.add(Figure("  pull + evaluate + gate (all accounts)", run.pull_seconds, "s",
                          limit=lower_bound(run.pull_counts, args.concurrency, latency), target=1.3,
                          note=f"requests {run.pull_counts}"))
        report.add(Figure("  execute (drift reads + mutations)", seconds - run.pull_seconds, "s",
                          limit=lower_bound(execute_counts, args.concurrency, latency), target=1.3,
                          note=f"requests {execute_counts}"))
        for platform, traffic in h.traffic.items():
            report.add(Figure(f"{platform}: requests in flight, most at once", traffic.max_in_flight, "",
                              limit=args.concurrency, target=1.0,
                              note=f"violations {traffic.violations}, requests {counts[platform]:,}"))
        report.add(Figure("violations counted by the fake servers", sum(t.violations for t in h.traffic.values()),
                          "", limit=None, note="target 0"))
        report.add(Figure("accounts failed", summary.accounts_failed, "", note="target 0"))
    report.print()
    return report


if __name__ == "__main__":
    main()
