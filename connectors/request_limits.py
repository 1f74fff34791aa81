"""At most so many requests in flight per platform, and at most so many started per second, across
every thread that calls it.

`call_with_retry` takes a slot of the limiter installed here (`limiting_requests`) for each
attempt: that is how the agent keeps at most `max_concurrency_per_platform` requests in flight per
platform, and `requests_per_second` started, however many accounts it works on at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

# A platform counts a second's requests as they arrive. A start counts against the quota from the
# moment the request was sent (see `RequestLimiter.sent`), or, if the transport does not say, from the
# end of its slot; until then it counts as starting now. So however late a busy process sends after
# its slot was given, no window of this length holds more sends than the quota. The 0.05 s beyond a
# second is for the network: two requests sent a second apart can arrive a little closer.
SECOND_WINDOW = 1.05


class RequestLimiter:
    """At most `limit_for(platform)` requests in flight per platform, across every thread that calls
    platforms through `call_with_retry` under it (`limiting_requests`).

    A slot is held for one attempt of one request (its whole answer read), never across the
    retry's back-off. A thread that already holds a slot of a platform does not take a second one
    (a call nested in another is still one request at a time from that thread), so nesting cannot
    deadlock. `when_first_used` tells the agent that a platform's requests are limited one by
    one, so it may work on more of its accounts at once than the limit.
    """

    def __init__(self, limit_for: Callable[[str], int], *, per_second: Mapping[str, float] | None = None) -> None:
        self._limit_for = limit_for
        self._per_second = dict(per_second or {})
        self._starts: dict[str, deque[float]] = {}  # when requests were sent, oldest first
        self._unsent: dict[str, int] = {}  # requests given their start, not sent yet
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._callbacks: dict[str, list[Callable[[], None]]] = {}
        self._in_flight: dict[str, int] = {}
        self._most_in_flight: dict[str, int] = {}
        self._taken: dict[str, int] = {}
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

    def slots_taken(self, platform: str) -> int:
        """How many slots of `platform` were taken so far: each one counted against its quotas."""
        with self._lock:
            return self._taken.get(platform, 0)

    def _count_taken(self, platform: str) -> None:
        with self._lock:
            self._taken[platform] = self._taken.get(platform, 0) + 1

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
            self._start_within_quota(platform)  # holding the slot: the platform is busy anyway
            held.add(platform)
            with self._lock:
                self._taken[platform] = self._taken.get(platform, 0) + 1
                self._in_flight[platform] = in_flight = self._in_flight.get(platform, 0) + 1
                self._most_in_flight[platform] = max(in_flight, self._most_in_flight.get(platform, 0))
            try:
                yield
            finally:
                self._slot_ended(platform)
                with self._lock:
                    self._in_flight[platform] -= 1
                held.discard(platform)

    def _start_within_quota(self, platform: str) -> None:
        """Wait until the platform's per-second quota has room, and count this request as starting
        now until it is sent (`sent`) or its slot ends.

        Room: fewer than the quota of requests sent within the last `SECOND_WINDOW`, those not yet
        sent included. A request is stamped after it was sent, never before, so however long a
        thread takes between its slot and its send, no `SECOND_WINDOW` holds more sends than the quota.
        """
        rate = self._per_second.get(platform)
        if not rate:
            return
        allowed = max(1, int(rate))
        while True:
            with self._lock:
                now = time.monotonic()
                starts = self._starts.setdefault(platform, deque())
                while starts and starts[0] <= now - SECOND_WINDOW:
                    starts.popleft()
                unsent = self._unsent.get(platform, 0)
                if len(starts) + unsent < allowed:
                    self._unsent[platform] = unsent + 1
                    self._unsent_here()[platform] = None
                    return
                # the oldest sent start leaves the window first; one not yet sent leaves it a window after now at the earliest
                wait = (starts[0] if starts else now) + SECOND_WINDOW - now
            time.sleep(max(wait, 0.001))

    def sent(self, platform: str) -> None:
        """The transport has just sent a request of `platform` (its first bytes are on the wire):
        count this thread's start from now. A further send inside the same slot counts as one more."""
        if platform not in self._per_second:
            return
        unsent = self._unsent_here()
        with self._lock:
            if platform in unsent:
                del unsent[platform]
                self._unsent[platform] -= 1
            self._starts.setdefault(platform, deque()).append(time.monotonic())

    def _unsent_here(self) -> dict[str, str | None]:
        """This thread's starts not sent yet: platform -> the start's token (the Redis limiter's) or None."""
        unsent: dict[str, str | None] = self._held.__dict__.setdefault("unsent", {})
        return unsent

    def _slot_ended(self, platform: str) -> None:
        """A start whose send the transport did not report counts from the end of its slot: whatever
        was sent, was sent by then."""
        if platform in self._unsent_here():
            self.sent(platform)


_LIMITER: ContextVar[RequestLimiter | None] = ContextVar("request_limiter", default=None)


def current_limiter() -> RequestLimiter | None:
    """The limiter `call_with_retry` uses in this context, if any."""
    return _LIMITER.get()


def request_sent(platform: str) -> None:
    """For transports: a request of `platform` was just sent (see `RequestLimiter.sent`)."""
    limiter = _LIMITER.get()
    if limiter is not None:
        limiter.sent(platform)


@contextmanager
def limiting_requests(limiter: RequestLimiter) -> Iterator[RequestLimiter]:
    """Platform calls made in this context (and in threads started with a copy of it) take slots of `limiter`."""
    token = _LIMITER.set(limiter)
    try:
        yield limiter
    finally:
        _LIMITER.reset(token)
