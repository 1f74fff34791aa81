"""Request limits shared through Redis: several processes, each with several threads, calling one
platform through `SharedRequestLimiter` never have more requests in flight than the cap, nor start
more a second than the per-second quota, nor more a day than the daily quota."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid

import pytest
import redis

from connectors.errors import RequestQuotaExhausted
from connectors.request_limits import RequestLimiter
from connectors.shared_request_limits import SharedRequestLimiter
from tests.unit.connectors.late_sends import busiest_second, late_senders

URL = f"redis://{os.environ.get('TEST_REDIS_HOST', '127.0.0.1')}:6379/9"


@pytest.fixture
def namespace() -> str:
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=3).ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("the shared limits test needs Redis at 127.0.0.1:6379 (apt-get install redis-server)",
                    pytrace=False)
    return f"pma-test-{uuid.uuid4().hex[:12]}"


def _requests(namespace: str, shared: bool, threads: int, each: int, cap: int, per_second: float | None) -> None:
    """One worker process: `threads` threads making `each` requests of 20 ms to "meta". What was in
    flight is observed on Redis keys of the test's own, apart from the limiter's."""
    observer = redis.Redis.from_url(URL)
    limiter = (SharedRequestLimiter(URL, lambda _p: cap, per_second={"meta": per_second} if per_second else None,
                                    namespace=namespace) if shared else RequestLimiter(lambda _p: cap))

    def run() -> None:
        for _ in range(each):
            with limiter.slot("meta"):
                now = observer.incr(f"{namespace}:observed")
                observer.rpush(f"{namespace}:in-flight", now)
                observer.rpush(f"{namespace}:started", repr(time.time()))
                time.sleep(0.02)
                observer.decr(f"{namespace}:observed")

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _run_processes(namespace: str, shared: bool, *, processes: int = 4, threads: int = 4, each: int = 10,
                   cap: int = 3, per_second: float | None = None) -> tuple[list[int], list[float]]:
    context = multiprocessing.get_context("spawn")
    started = [context.Process(target=_requests, args=(namespace, shared, threads, each, cap, per_second))
               for _ in range(processes)]
    for process in started:
        process.start()
    for process in started:
        process.join(120)
        assert process.exitcode == 0
    observer = redis.Redis.from_url(URL)
    in_flight = [int(v) for v in observer.lrange(f"{namespace}:in-flight", 0, -1)]
    starts = sorted(float(v) for v in observer.lrange(f"{namespace}:started", 0, -1))
    observer.delete(f"{namespace}:in-flight", f"{namespace}:started", f"{namespace}:observed")
    return in_flight, starts


def test_workers_in_several_processes_never_exceed_the_platforms_cap(namespace: str) -> None:
    in_flight, _starts = _run_processes(namespace, shared=True)
    assert len(in_flight) == 4 * 4 * 10
    assert max(in_flight) == 3  # the cap, reached and never passed by 16 threads in 4 processes


def test_a_limiter_per_process_alone_lets_the_workers_exceed_the_cap(namespace: str) -> None:
    in_flight, _starts = _run_processes(namespace, shared=False)
    assert max(in_flight) > 3  # what Celery workers did before: each process allowed the whole cap


def test_no_second_starts_more_requests_than_the_per_second_quota(namespace: str) -> None:
    _in_flight, starts = _run_processes(namespace, shared=True, processes=2, threads=4, each=5, cap=8,
                                        per_second=10)
    assert len(starts) == 40
    # stamped by the test after the request started: allow for its own delay on a loaded machine
    busiest = max(sum(1 for s in starts if first <= s < first + 0.75) for first in starts)
    assert busiest <= 10
    assert starts[-1] - starts[0] >= 2.9  # 40 requests at 10 a second: the quota, not the cap, set the pace


def test_the_daily_quota_spent_stops_requests_before_they_are_sent(namespace: str) -> None:
    limiter = SharedRequestLimiter(URL, lambda _p: 4, per_day={"linkedin": 5}, namespace=namespace)
    other = SharedRequestLimiter(URL, lambda _p: 4, per_day={"linkedin": 5}, namespace=namespace)  # another worker
    sent = 0
    for one in (limiter, other) * 3:
        try:
            with one.slot("linkedin"):
                sent += 1
        except RequestQuotaExhausted as error:
            assert "daily quota of 5 requests" in str(error)
    assert sent == 5
    with limiter.slot("google_ads"):  # another platform's quota is its own
        pass


def test_requests_sent_late_after_their_slot_still_keep_every_second_within_the_quota(namespace: str) -> None:
    # the shared limiter counts a start from its send (here: the end of its slot), on Redis's clock
    limiter = SharedRequestLimiter(URL, lambda _p: 10, per_second={"meta": 5}, namespace=namespace)
    sends = late_senders(limiter, quota=5)
    assert len(sends) == 10
    assert busiest_second(sends) == 5
