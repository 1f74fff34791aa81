"""Requests sent late after their slot, as a busy process sends them: what a platform would count."""

from __future__ import annotations

import threading
import time

from connectors.request_limits import RequestLimiter

PATIENCE = 10.0  # seconds; only ever reached when the limiter under test is broken


def late_senders(limiter: RequestLimiter, quota: int, late: float = 0.45) -> list[float]:
    """2 x `quota` threads each take a slot of "meta" and send one request; the first `quota` to get
    their slot send `late` seconds after it (a busy interpreter), the rest at once. Returns the send
    times, which is what the platform counts."""
    sends: list[float] = []
    given = iter(range(2 * quota))
    lock = threading.Lock()
    gate = threading.Barrier(2 * quota, timeout=PATIENCE)

    def one() -> None:
        gate.wait()
        with limiter.slot("meta"):
            with lock:
                slow = next(given) < quota
            time.sleep(late if slow else 0)
            with lock:
                sends.append(time.monotonic())
            time.sleep(0.05)  # the answer

    threads = [threading.Thread(target=one) for _ in range(2 * quota)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=PATIENCE)
    return sorted(sends)


def busiest_second(sends: list[float]) -> int:
    return max(sum(1 for t in sends if first <= t < first + 1.0) for first in sends)
