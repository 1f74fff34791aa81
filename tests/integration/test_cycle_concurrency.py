"""A cycle over many accounts keeps each platform's request limit, uses it, and is not held up by
one slow account.

The simulator stands behind a connector whose every call goes through `call_with_retry`, as the
real connectors' requests do, and counts the calls in flight. No time is asserted: calls meet at a
barrier and the slow account waits for an event; their timeouts only turn a hang into a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine

from agent.cycle.run import run_cycle
from agent.storage import flags
from agent.storage.action_states import get_action
from connectors.retry import RetryPolicy, call_with_retry
from connectors.simulator.connector import SimulatorConnector
from tests.integration.conftest import SimWorld, make_world, pause_proposal

T = TypeVar("T")
LIMIT = 2
PATIENCE = 10.0  # seconds; only ever reached when the behaviour under test is broken
ACCOUNTS = [{"id": f"shop-{i}", "platform": "simulator", "simulate": "meta" if i % 2 else "linkedin",
             "currency": "EUR", "timezone": "Europe/Berlin"} for i in range(9)]
SLOW = "shop-4"


class CountingPlatform:
    """The simulator as a remote platform: each call is one request, sent through `call_with_retry`."""

    platform = "simulator"

    def __init__(self, simulator: SimulatorConnector) -> None:
        self.simulator = simulator
        self.in_flight = 0
        self.most_in_flight = 0
        self.requests = 0
        self._lock = threading.Lock()
        # the first LIMIT requests of accounts meet here (the up-front account read runs alone)
        self.first_wave = threading.Barrier(LIMIT, timeout=PATIENCE)
        self.admitted_to_first_wave = 0
        self.limit_reached = False
        self.others_done = threading.Event()  # set when every other account has been pulled
        self.slow_account_waits = 0
        self.slow_account_waits_in_vain = 0  # the others never all got pulled while it waited

    def _request(self, account_id: str, call: Callable[[], T]) -> T:
        def attempt() -> T:
            with self._lock:
                self.in_flight += 1
                self.requests += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                first_wave = account_id != "*" and self.admitted_to_first_wave < LIMIT
                self.admitted_to_first_wave += first_wave
            try:
                if first_wave:
                    self.first_wave.wait()  # raises BrokenBarrierError if LIMIT requests never run at once
                    self.limit_reached = True
                if account_id == SLOW and not self.others_done.is_set():
                    released = self.others_done.wait(PATIENCE)
                    with self._lock:
                        self.slow_account_waits += 1
                        self.slow_account_waits_in_vain += not released
                    self.others_done.set()  # waited once in vain: the test fails, without waiting again
                return call()
            finally:
                with self._lock:
                    self.in_flight -= 1

        return call_with_retry(attempt, policy=RetryPolicy(sleep=lambda _s: None), classify=lambda _e: None,
                               platform=self.platform, account_id=account_id, operation="request")

    def accounts(self) -> Any:
        return self._request("*", self.simulator.accounts)

    def entities(self, account_id: str, entity_ids: Any = None) -> Any:
        return self._request(account_id, lambda: self.simulator.entities(account_id, entity_ids))

    def daily_metrics(self, account_id: str, start: Any, end: Any) -> Any:
        return self._request(account_id, lambda: self.simulator.daily_metrics(account_id, start, end))

    def search_terms(self, account_id: str, start: Any, end: Any) -> Any:
        return self._request(account_id, lambda: self.simulator.search_terms(account_id, start, end))

    def audiences(self, account_id: str) -> Any:
        return self._request(account_id, lambda: self.simulator.audiences(account_id))

    def estimate_reach(self, account_id: str, audience_ids: Any) -> Any:
        return self._request(account_id, lambda: self.simulator.estimate_reach(account_id, audience_ids))

    def apply(self, account_id: str, mutations: Any) -> Any:
        return self._request(account_id, lambda: self.simulator.apply(account_id, mutations))

    def __getattr__(self, name: str) -> Any:  # anything else the agent may ask of the simulator
        return getattr(self.simulator, name)


@pytest.fixture
def world(engine: Engine, database_url: str) -> SimWorld:
    """Nine accounts on one platform of LIMIT requests in flight, pauses and budgets automatic."""
    return make_world(engine, database_url, accounts=ACCOUNTS,
                      execution={"max_concurrency_per_platform": {"simulator": LIMIT}},
                      defaults={"permissions": {"pause": "auto", "set_budget": "auto"}})


def test_many_accounts_keep_the_platform_limit_and_a_slow_account_holds_up_no_other(world: SimWorld) -> None:
    engine = world.engine
    platform = CountingPlatform(world.simulator)
    pulled: set[str] = set()
    others = {a["id"] for a in ACCOUNTS} - {SLOW}
    lock = threading.Lock()

    def progress(message: str) -> None:
        account, _, step = message.partition(": ")
        if step == "evaluating policies":  # the account's pull is done
            with lock:
                pulled.add(account)
                if others <= pulled:
                    platform.others_done.set()

    summary = run_cycle(engine, world.config, {"simulator": platform}, world.clock, progress=progress)

    assert (summary.accounts, summary.accounts_failed, summary.errors) == (len(ACCOUNTS), 0, [])
    assert platform.most_in_flight <= LIMIT  # pull, reach estimates, drift checks and writes alike
    assert platform.limit_reached  # ... and the limit was used, not just kept
    # the slow account's requests waited until every other account was pulled, and never in vain
    assert platform.slow_account_waits >= 1
    assert platform.slow_account_waits_in_vain == 0
    assert summary.execution["executed"] > 0  # execution ran under the same limit
    assert platform.requests > len(ACCOUNTS) * 4  # entities, reports, audiences, reach estimates each


class ExecutionReleasesTheSlowAccount(CountingPlatform):
    """The slow account's requests wait until another account's actions have been applied."""

    def apply(self, account_id: str, mutations: Any) -> Any:
        results = super().apply(account_id, mutations)
        if account_id != SLOW:
            self.others_done.set()
        return results


def test_an_account_executes_once_gated_without_waiting_for_the_slowest_pull(world: SimWorld) -> None:
    engine = world.engine
    platform = ExecutionReleasesTheSlowAccount(world.simulator)

    summary = run_cycle(engine, world.config, {"simulator": platform}, world.clock)

    assert (summary.accounts, summary.accounts_failed, summary.errors) == (len(ACCOUNTS), 0, [])
    # the slow account was still being pulled when another account's changes were applied
    assert platform.slow_account_waits >= 1
    assert platform.slow_account_waits_in_vain == 0
    assert platform.most_in_flight <= LIMIT
    assert summary.execution["executed"] == len(world.simulator.mutation_log()) > 0  # each change applied once


class PullFails(CountingPlatform):
    """A platform whose reports fail for one account; its writes still work."""

    def __init__(self, world: SimWorld, failing: str) -> None:
        super().__init__(world.simulator)
        self.failing = failing
        self.first_wave = threading.Barrier(1)  # no first-wave meeting in these tests
        self.others_done.set()

    def daily_metrics(self, account_id: str, start: Any, end: Any) -> Any:
        if account_id == self.failing:
            raise RuntimeError("report unavailable")
        return super().daily_metrics(account_id, start, end)


def test_approved_actions_of_an_account_whose_pull_failed_still_execute_once(sim_world: SimWorld) -> None:
    pauses = {account: sim_world.queue(pause_proposal(sim_world.active_ad_sets(account)[0]))
              for account in ("shop-meta", "shop-search")}
    platform = PullFails(sim_world, failing="shop-meta")

    summary = run_cycle(sim_world.engine, sim_world.config, {"simulator": platform}, sim_world.clock)

    assert summary.accounts_failed == 1 and "report unavailable" in summary.errors[0]
    log = sim_world.simulator.mutation_log()
    assert sorted(row["account_id"] for row in log if row["kind"] == "pause") == ["shop-meta", "shop-search"]
    assert summary.execution["executed"] == len(log)  # nothing applied twice
    with sim_world.engine.connect() as connection:
        assert {action["state"] for i in pauses.values() if (action := get_action(connection, i))} == {"executed"}


def test_held_actions_are_checked_once_per_cycle(sim_world: SimWorld) -> None:
    for account in ("shop-meta", "shop-search"):
        sim_world.queue(pause_proposal(sim_world.active_ad_sets(account)[0]))
    with sim_world.engine.begin() as connection:
        flags.set_flag(connection, flags.KILL_SWITCH, True, "ops", sim_world.clock.now())

    summary = run_cycle(sim_world.engine, sim_world.config, sim_world.connectors, sim_world.clock)

    assert summary.accounts_failed == 0
    assert summary.execution["held"] == 2  # once each: not again by the end-of-cycle sweep
    assert sim_world.simulator.mutation_log() == []
