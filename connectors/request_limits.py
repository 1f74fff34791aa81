"""At most so many requests in flight per platform, across every thread that calls it.

`call_with_retry` takes a slot of the limiter installed here (`limiting_requests`) for each
attempt: that is how the agent keeps at most `max_concurrency_per_platform` requests in flight per
platform however many accounts it works on at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class RequestLimiter:
    """At most `limit_for(platform)` requests in flight per platform, across every thread that calls
    platforms through `call_with_retry` under it (`limiting_requests`).

    A slot is held for one attempt of one request (its whole answer read), never across the
    retry's back-off. A thread that already holds a slot of a platform does not take a second one
    (a call nested in another is still one request at a time from that thread), so nesting cannot
    deadlock. `when_first_used` tells the agent that a platform's requests are limited one by
    one, so it may work on more of its accounts at once than the limit.
    """

    def __init__(self, limit_for: Callable[[str], int]) -> None:
        self._limit_for = limit_for
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._callbacks: dict[str, list[Callable[[], None]]] = {}
        self._in_flight: dict[str, int] = {}
        self._most_in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._held = threading.local()

    def limit(self, platform: str) -> int:
        return max(1, self._limit_for(platform))

    def when_first_used(self, platform: str, callback: Callable[[], None]) -> None:
        """Call `callback` once the first request of `platform` takes a slot (now, if one has)."""
        with self._lock:
            if platform not in self._slots:
                self._callbacks.setdefault(platform, []).append(callback)
                return
        callback()

    def most_in_flight(self, platform: str) -> int:
        """The most requests of `platform` that held a slot at the same time."""
        with self._lock:
            return self._most_in_flight.get(platform, 0)

    @contextmanager
    def slot(self, platform: str) -> Iterator[None]:
        held: set[str] = self._held.__dict__.setdefault("platforms", set())
        if platform in held:
            yield
            return
        with self._lock:
            semaphore = self._slots.get(platform)
            if semaphore is None:
                semaphore = self._slots[platform] = threading.BoundedSemaphore(self.limit(platform))
            callbacks = self._callbacks.pop(platform, [])
        for callback in callbacks:
            callback()
        with semaphore:
            held.add(platform)
            with self._lock:
                self._in_flight[platform] = in_flight = self._in_flight.get(platform, 0) + 1
                self._most_in_flight[platform] = max(in_flight, self._most_in_flight.get(platform, 0))
            try:
                yield
            finally:
                with self._lock:
                    self._in_flight[platform] -= 1
                held.discard(platform)


_LIMITER: ContextVar[RequestLimiter | None] = ContextVar("request_limiter", default=None)


def current_limiter() -> RequestLimiter | None:
    """The limiter `call_with_retry` uses in this context, if any."""
    return _LIMITER.get()


@contextmanager
def limiting_requests(limiter: RequestLimiter) -> Iterator[RequestLimiter]:
    """Platform calls made in this context (and in threads started with a copy of it) take slots of `limiter`."""
    token = _LIMITER.set(limiter)
    try:
        yield limiter
    finally:
        _LIMITER.reset(token)
