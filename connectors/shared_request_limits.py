"""Per-platform request limits shared by every process (Celery workers), kept in Redis.

The in-process `RequestLimiter` (connectors/request_limits.py) bounds the requests of one process;
with several workers each would allow the whole limit. `SharedRequestLimiter` has the same
interface, and each attempt of `call_with_retry` takes, in this order:

1. a slot of the platform's concurrency cap: a Redis sorted set of leases (one member per request
   in flight, scored by the Redis server's clock), taken and counted in one Lua script so two
   workers never both see the last free slot. A lease older than `lease_seconds` (a worker killed
   mid-request) is dropped, so a lost worker cannot hold a slot forever;
2. the per-second quota: a moving window of send times (a sorted set, the Redis server's clock,
   one Lua script). When spent, the request waits for the window to move, holding its slot (the
   platform is busy anyway). A request given its start counts as sending from then on (scored in the
   future, `lease_seconds` ahead, so a killed worker's start leaves by itself) until the transport
   reports it sent or its slot ends; then it is scored with the Redis server's time (`sent`). The
   `limits` library's moving window was tried first and let 13-16 requests start within one second
   at a quota of 10 (its entries are stamped with each client's clock before the script runs, and
   its list key expires after one second);
3. the daily quota (a fixed daily window of the `limits` library): when spent,
   `RequestQuotaExhausted` is raised and nothing is sent; waiting a day is not an option inside a cycle.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import redis
from limits import RateLimitItemPerDay
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from connectors.errors import RequestQuotaExhausted
from connectors.request_limits import SECOND_WINDOW, RequestLimiter

_TAKE_SLOT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - tonumber(ARGV[1]))
local held = redis.call('ZCARD', KEYS[1])
if held < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], t, ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1])) + 60)
  return held + 1
end
return 0
"""


_START_WITHIN_SECOND = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local window = tonumber(ARGV[3])
local unsent_for = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], t + unsent_for, ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(unsent_for + window) + 5)
  return '0'
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
return tostring(math.min(oldest, t) + window - t)
"""

_SENT = """
local now = redis.call('TIME')
redis.call('ZADD', KEYS[1], tonumber(now[1]) + tonumber(now[2]) / 1000000, ARGV[1])
"""


class SharedRequestLimiter(RequestLimiter):
    """At most `limit_for(platform)` requests in flight per platform across every process using the
    same Redis and `namespace`, at most `per_second[platform]` started per second and
    `per_day[platform]` per day (a platform missing from a mapping has no such quota)."""

    def __init__(self, redis_url: str, limit_for: Callable[[str], int], *, per_second: Mapping[str, float] | None = None,
                 per_day: Mapping[str, int] | None = None, namespace: str = "pma", lease_seconds: float = 300.0,
                 poll_seconds: float = 0.005) -> None:
        super().__init__(limit_for)
        self._redis = redis.Redis.from_url(redis_url)
        self._take = self._redis.register_script(_TAKE_SLOT)
        self._start = self._redis.register_script(_START_WITHIN_SECOND)
        self._sent = self._redis.register_script(_SENT)
        self._daily = FixedWindowRateLimiter(RedisStorage(redis_url))
        self._per_second = dict(per_second or {})
        self._per_day = dict(per_day or {})
        self._namespace = namespace
        self._lease = lease_seconds
        self._poll = poll_seconds

    def _key(self, platform: str) -> str:
        return f"{self._namespace}:in-flight:{platform}"

    def _first_use(self, platform: str) -> None:
        with self._lock:
            callbacks = self._callbacks.pop(platform, [])
            self._slots.setdefault(platform, threading.BoundedSemaphore(1))  # marks the platform as used
        for callback in callbacks:
            callback()

    def _take_slot(self, platform: str, token: str) -> None:
        delay = self._poll
        while True:
            held = int(self._take(keys=[self._key(platform)], args=[self._lease, self.limit(platform), token]))
            if held:
                with self._lock:
                    self._most_in_flight[platform] = max(held, self._most_in_flight.get(platform, 0))
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    def _started_key(self, platform: str) -> str:
        return f"{self._namespace}:started:{platform}"

    def _spend_quotas(self, platform: str, token: str) -> None:
        rate = self._per_second.get(platform)
        while rate:
            wait = float(self._start(keys=[self._started_key(platform)],
                                     args=[max(1, int(rate)), token, SECOND_WINDOW, self._lease]))
            if wait <= 0:
                self._unsent_here()[platform] = token
                break
            time.sleep(min(max(wait, self._poll), 1.0))
        daily = self._per_day.get(platform)
        if daily and not self._daily.hit(RateLimitItemPerDay(daily), self._namespace, platform):
            raise RequestQuotaExhausted(f"{platform}: the daily quota of {daily} requests is spent")

    @contextmanager
    def slot(self, platform: str) -> Iterator[None]:
        held: set[str] = self._held.__dict__.setdefault("platforms", set())
        if platform in held:
            yield
            return
        self._first_use(platform)
        token = uuid.uuid4().hex
        self._take_slot(platform, token)
        held.add(platform)
        try:
            self._spend_quotas(platform, token)
            self._count_taken(platform)
            yield
        finally:
            self._slot_ended(platform)
            held.discard(platform)
            self._redis.zrem(self._key(platform), token)

    def sent(self, platform: str) -> None:
        """Score this thread's start with the Redis server's time now (see `RequestLimiter.sent`)."""
        if platform not in self._per_second:
            return
        token = self._unsent_here().pop(platform, None) or uuid.uuid4().hex
        self._sent(keys=[self._started_key(platform)], args=[token])
