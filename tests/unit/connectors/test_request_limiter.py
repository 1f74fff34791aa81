"""The per-platform request limit that `call_with_retry` applies (connectors/retry.py), and the
per-platform account pools built on it (agent/cycle/concurrency.py: for_each_by_platform).

No timing is asserted: threads meet at barriers and events, and the waits carry generous timeouts
only so that a broken limiter fails the test instead of hanging it.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from agent.cycle.concurrency import ACCOUNT_WORKERS_PER_SLOT, for_each_by_platform
from connectors.request_limits import RequestLimiter, current_limiter, limiting_requests, request_sent
from connectors.retry import Classified, RetryPolicy, call_with_retry
from tests.unit.connectors.late_sends import busiest_second, late_senders

PATIENCE = 10.0  # seconds; only ever reached when the behaviour under test is broken


class InFlight:
    """Counts calls running at once, per platform."""

    def __init__(self) -> None:
        self.now: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, platform: str) -> None:
        with self._lock:
            self.now[platform] = self.now.get(platform, 0) + 1
            self.most[platform] = max(self.most.get(platform, 0), self.now[platform])

    def leave(self, platform: str) -> None:
        with self._lock:
            self.now[platform] -= 1


def never_retry(_error: BaseException) -> Classified | None:
    return None


def call(platform: str, fn: Callable[[], Any], classify: Callable[[BaseException], Classified | None] = never_retry,
         sleep: Callable[[float], None] = lambda _s: None) -> Any:
    return call_with_retry(fn, policy=RetryPolicy(sleep=sleep, initial_delay=0.0), classify=classify,
                           platform=platform, account_id="acct", operation="read")


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """Run `target(i)` in `count` threads, each in a copy of the caller's context (as the agent's pools do)."""
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(target, i)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
        assert not thread.is_alive(), "a call never finished: slots were not released"


def test_no_more_requests_in_flight_than_the_platform_limit_and_the_limit_is_used() -> None:
    limit = 3
    seen = InFlight()
    full = threading.Barrier(limit, timeout=PATIENCE)  # calls meet here `limit` at a time: all in flight at once

    def request() -> None:
        seen.enter("meta")
        try:
            full.wait()
        finally:
            seen.leave("meta")

    with limiting_requests(RequestLimiter(lambda _platform: limit)) as limiter:
        run_threads(12, lambda _i: call("meta", request))
    assert seen.most["meta"] == limit
    assert limiter.most_in_flight("meta") == limit


def test_platforms_have_slots_of_their_own() -> None:
    release = threading.Event()
    seen = InFlight()

    def request(platform: str) -> Callable[[], None]:
        def run() -> None:
            seen.enter(platform)
            try:
                if platform == "meta":
                    release.wait(PATIENCE)  # meta's only slot stays taken ...
            finally:
                seen.leave(platform)
        return run

    with limiting_requests(RequestLimiter(lambda _platform: 1)):
        blocked = threading.Thread(target=contextvars.copy_context().run,
                                   args=(call, "meta", request("meta")))
        blocked.start()
        run_threads(3, lambda _i: call("linkedin", request("linkedin")))  # ... and linkedin still gets through
        release.set()
        blocked.join(PATIENCE)
    assert seen.most == {"meta": 1, "linkedin": 1}


def test_a_retry_waits_its_back_off_without_holding_a_slot() -> None:
    attempts: list[str] = []
    other_done = threading.Event()

    def transient(error: BaseException) -> Classified | None:
        return Classified("transient", str(error)) if isinstance(error, TimeoutError) else None

    def flaky() -> str:
        attempts.append("flaky")
        if len(attempts) == 1:
            raise TimeoutError("try again")
        return "ok"

    def back_off(_seconds: float) -> None:
        # with the only slot held, this other request could never run
        worker = threading.Thread(target=contextvars.copy_context().run,
                                  args=(call, "google_ads", other_done.set))
        worker.start()
        worker.join(PATIENCE)

    with limiting_requests(RequestLimiter(lambda _platform: 1)):
        assert call("google_ads", flaky, classify=transient, sleep=back_off) == "ok"
    assert other_done.is_set()
    assert attempts == ["flaky", "flaky"]


def test_a_call_nested_in_another_on_the_same_thread_takes_no_second_slot() -> None:
    with limiting_requests(RequestLimiter(lambda _platform: 1)) as limiter:
        assert call("meta", lambda: call("meta", lambda: "inner")) == "inner"
    assert limiter.most_in_flight("meta") == 1


def test_without_a_limiter_calls_are_not_limited_and_the_context_is_restored() -> None:
    assert current_limiter() is None
    with limiting_requests(RequestLimiter(lambda _platform: 1)) as limiter:
        assert current_limiter() is limiter
    assert current_limiter() is None
    together = threading.Barrier(3, timeout=PATIENCE)
    run_threads(3, lambda _i: call("meta", together.wait))  # three at once: only possible unlimited


@pytest.mark.parametrize("uses_limiter", [True, False])
def test_accounts_of_a_platform_run_beyond_its_limit_only_once_its_requests_are_limited(uses_limiter: bool) -> None:
    """A connector that sends its requests through `call_with_retry` is limited request by request,
    so more of its accounts may run at once; one that does not keeps the old bound: `limit` accounts."""
    limit = 2
    accounts = [f"acct-{i}" for i in range(10)]
    running = InFlight()
    limiter = RequestLimiter(lambda _platform: limit)
    widened = threading.Event()
    limiter.when_first_used("meta", widened.set)

    workers = ACCOUNT_WORKERS_PER_SLOT * limit
    everyone = threading.Barrier(workers, timeout=PATIENCE)
    arrivals = iter(range(len(accounts)))

    def work(_account: str) -> None:
        running.enter("accounts")
        try:
            if uses_limiter:
                call("meta", lambda: None)
                if next(arrivals) < workers:  # the first wave meets: the gate must have let them all in
                    everyone.wait()
        finally:
            running.leave("accounts")

    with limiting_requests(limiter):
        for_each_by_platform(accounts, lambda _a: "meta", work, limiter, name="test")
    if uses_limiter:
        assert widened.is_set()
        assert running.most["accounts"] == workers
        assert limiter.most_in_flight("meta") <= limit
    else:
        assert not widened.is_set()
        assert running.most["accounts"] <= limit


def test_results_come_back_in_the_order_of_the_items_and_errors_are_raised() -> None:
    limiter = RequestLimiter(lambda _platform: 2)
    items = list(range(9))
    assert for_each_by_platform(items, lambda i: "ab"[i % 2], lambda i: i * 10, limiter, name="t") == \
        [i * 10 for i in items]

    def fails(i: int) -> int:
        if i == 4:
            raise ValueError("account 4 is broken")
        return i

    with pytest.raises(ValueError, match="account 4"):
        for_each_by_platform(items, lambda _i: "a", fails, limiter, name="t")


def test_the_in_process_limiter_starts_no_more_than_the_per_second_quota_in_any_second() -> None:
    # 12 threads want a request each at once, 4 may be in flight, 5 may start per second: starts in
    # any one second never exceed 5 (the window counted is 1.2 s, for arrival jitter)
    limiter = RequestLimiter(lambda _p: 4, per_second={"meta": 5})
    starts: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(12, timeout=PATIENCE)

    def one() -> None:
        gate.wait()
        with limiter.slot("meta"), lock:
            starts.append(time.monotonic())

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=PATIENCE)
    starts.sort()
    assert len(starts) == 12
    assert max(sum(1 for t in starts if first <= t < first + 1.0) for first in starts) == 5
    # a platform without a quota is not held back by another's
    with limiter.slot("google_ads"):
        pass


def test_requests_sent_late_after_their_slot_still_keep_every_second_within_the_quota() -> None:
    # When the first five are sent 0.45 s after their slots and the next five at once, counting
    # starts from the slots lets ten requests reach the platform within one second.
    sends = late_senders(RequestLimiter(lambda _p: 10, per_second={"meta": 5}), quota=5)
    assert len(sends) == 10
    assert busiest_second(sends) == 5


def test_a_request_reported_sent_counts_from_its_send_not_from_its_answer() -> None:
    # quota 1 a second: the second request may go once a window has passed since the first was
    # sent, while the first is still waiting for its answer
    limiter = RequestLimiter(lambda _p: 2, per_second={"meta": 1})
    first_sent, second_sent = threading.Event(), threading.Event()
    answered: list[bool] = []

    def first() -> None:
        with limiting_requests(limiter), limiter.slot("meta"):
            request_sent("meta")
            first_sent.set()
            answered.append(second_sent.wait(PATIENCE))  # no answer until the second request is out

    def second() -> None:
        first_sent.wait(PATIENCE)
        with limiter.slot("meta"):
            second_sent.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * PATIENCE)
    assert answered == [True]  # the second went out while the first was unanswered
