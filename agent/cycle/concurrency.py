"""Concurrency of a cycle: how many platform requests are in flight, and which threads send them.

A platform's `max_concurrency_per_platform` bounds its *requests* (a `RequestLimiter` slot is taken
inside `connectors.retry.call_with_retry`), not its accounts: more accounts than slots are worked
on at once, so one account's CPU work (parsing, storing, evaluating) overlaps another's requests,
and an account's independent reads (reports, audiences, reach estimates) are in flight together.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Protocol, TypeVar

from agent.config import AgentConfig
from connectors.request_limits import RequestLimiter, current_limiter, limiting_requests

# Accounts of one platform worked on at once, per request slot of the platform: while one account
# parses, stores or evaluates, another's request uses the slot. bench/cycle.py at 200 accounts,
# 4 slots, accounts executing once gated: 2 per slot -> 1.22x the latency bound, 4 -> 1.21-1.23x,
# 6 -> 1.18x (run-to-run spread about 0.02; more threads buy little and hold more connections).
ACCOUNT_WORKERS_PER_SLOT = 4
T = TypeVar("T")
Item = TypeVar("Item")


def accounts_in_flight(config: AgentConfig) -> int:
    """The most accounts a cycle in process works on at once (`for_each_by_platform`): per platform,
    `ACCOUNT_WORKERS_PER_SLOT` x its request slots, or its number of accounts if fewer. Each may hold
    a database connection at a time, so the engine's pool is sized to it (`store.make_engine`)."""
    accounts: dict[str, int] = defaultdict(int)
    for account in config.accounts:
        accounts[account.platform] += 1
    return sum(min(n, ACCOUNT_WORKERS_PER_SLOT * max(1, config.execution.concurrency_for(platform)))
               for platform, n in accounts.items())


def engine_pool_size(config: AgentConfig) -> int:
    """Connections the agent's engine keeps: one per account in flight, and five for the rest (the
    console and API, the scheduler's jobs, the end-of-cycle sweep)."""
    return accounts_in_flight(config) + 5
Result = TypeVar("Result")


@contextmanager
def platform_request_limits(config: AgentConfig) -> Iterator[RequestLimiter]:
    """The request limiter already in force here, or one with the config's
    `max_concurrency_per_platform` and `requests_per_second`, in force for the block: platform calls take its slots."""
    limiter = current_limiter()
    if limiter is not None:
        yield limiter
        return
    execution = config.execution
    with limiting_requests(RequestLimiter(execution.concurrency_for,
                                          per_second=execution.requests_per_second)) as limiter:
        yield limiter


def for_each_by_platform(items: Sequence[Item], platform_of: Callable[[Item], str], work: Callable[[Item], Result],
                         limiter: RequestLimiter, *, name: str) -> list[Result]:
    """`work(item)` for every item (an account), in a pool of threads per platform, so a platform
    with many accounts never holds up another's; results in the order of `items`.

    The platform's limit applies to its requests, one by one (`limiter`), not to its accounts: up to
    `ACCOUNT_WORKERS_PER_SLOT` x limit accounts are worked on at once, and one account's CPU work
    (parsing, storing, evaluating) overlaps another's requests. Until the first request of a
    platform has gone through the limiter (a connector that calls its platform some other way never
    sends one), at most `limit` of its accounts run at once, which bounds its requests as before.
    Exceptions of `work` are raised here, after every item has run.
    """
    by_platform: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        by_platform[platform_of(item)].append(index)
    futures: dict[int, Future[Result]] = {}
    with ExitStack() as stack:
        for platform, indices in by_platform.items():
            limit = limiter.limit(platform)
            workers = min(len(indices), ACCOUNT_WORKERS_PER_SLOT * limit)
            gate = threading.Semaphore(min(limit, workers))
            if workers > limit:
                limiter.when_first_used(platform, functools.partial(gate.release, workers - limit))

            def gated(item: Item, gate: threading.Semaphore = gate) -> Result:
                with gate:
                    return work(item)

            pool = stack.enter_context(ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{name}-{platform}"))
            for index in indices:  # each task runs in a copy of this context: the limiter goes with it
                futures[index] = pool.submit(contextvars.copy_context().run, gated, items[index])
    return [futures[index].result() for index in range(len(items))]



class ReadPool(Protocol):
    """Where an account's independent platform reads run: `submit` returns the read's future."""

    def submit(self, read: Callable[[], T]) -> Future[T]: ...


class OneAfterAnother:
    """Each read runs at once, in the calling thread (a Celery worker pulls one account like this)."""

    def submit(self, read: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(read())
        except Exception as error:  # raised again by future.result(), where the caller waits
            future.set_exception(error)
        return future


class SharedReads:
    """A pool for the reads of one platform's accounts, shared by them all: an account's reports,
    audiences and reach estimates are in flight together instead of one after another, so its
    latency no longer adds up. The request limiter still bounds what is in flight per platform,
    and each account has at most `per_account` reads running, so one slow account (huge reports, a
    platform taking its time) cannot hold every slot of its platform."""

    def __init__(self, pool: ThreadPoolExecutor, per_account: int) -> None:
        self._pool = pool
        self._per_account = max(1, per_account)

    def for_account(self) -> ReadPool:
        return _AccountReads(self._pool, threading.BoundedSemaphore(self._per_account))


class _AccountReads:
    def __init__(self, pool: ThreadPoolExecutor, running: threading.BoundedSemaphore) -> None:
        self._pool = pool
        self._running = running

    def submit(self, read: Callable[[], T]) -> Future[T]:
        self._running.acquire()  # the account's own thread waits here, holding nothing else
        future = self._pool.submit(contextvars.copy_context().run, read)  # the cycle's request limits go along
        future.add_done_callback(lambda _done: self._running.release())
        return future
