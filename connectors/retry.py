"""Retry policies shared by the platform connectors (tenacity underneath).

Platforms fail in two ways that need opposite handling. Transient trouble (rate limits, 5xx,
timeouts) is retried with exponential back-off and jitter, never sooner than the platform's own
hint (`Retry-After`, Google's `QuotaErrorDetails.retry_delay`, Meta's
`estimated_time_to_regain_access`), and never longer in total than the policy's budget. Auth and
validation errors are final: retrying cannot fix a revoked token, so they fail at once with a
message that names the account and never contains a secret.

Writes are different: a write that timed out, lost its answer or got a 5xx may have been applied,
so it is never re-sent blindly (`call_with_retry(write=True)`). It is retried only when the error
proves nothing was applied (a rate limit refuses the request; a connection that was never made
sent nothing); otherwise it fails with `WriteOutcomeUnknown` and the caller settles it by reading
the platform. A write guard (`guarding_writes`) is asked right before every write attempt: that is
where the kill switch stops writes that were already on their way.

Sleeping is injected (`RetryPolicy.sleep`) so tests assert the waits requested and never wait.

Every attempt also takes a slot of the caller's `RequestLimiter`, if one is installed
(`limiting_requests`): that is how the agent keeps at most `max_concurrency_per_platform` requests
in flight per platform however many accounts it works on at once. Back-off waits hold no slot.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

from connectors.base import ConnectorError

log = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], None]
ErrorKind = Literal["transient", "auth", "invalid"]


class PlatformError(ConnectorError):
    """A platform call failed; `platform` and `account_id` say where."""

    def __init__(self, message: str, *, platform: str, account_id: str) -> None:
        super().__init__(message)
        self.platform = platform
        self.account_id = account_id
        self.original: BaseException | None = None  # the SDK's error, for callers that need its details


class PlatformAuthError(PlatformError):
    """Credentials were refused (expired or revoked token, missing permission): fix the config."""


class PlatformRequestError(PlatformError):
    """The platform rejected the request as invalid; retrying the same request cannot help."""


class PlatformRateLimited(PlatformError):
    """Still rate limited after the retry budget; `retry_after` is the platform's last hint."""

    def __init__(self, message: str, *, platform: str, account_id: str, retry_after: float | None) -> None:
        super().__init__(message, platform=platform, account_id=account_id)
        self.retry_after = retry_after


class PlatformUnavailable(PlatformError):
    """Server errors or timeouts outlasted the retry budget."""


class WriteOutcomeUnknown(PlatformUnavailable):
    """A write was sent but its answer never came (timeout, reset, lost answer) or was a server error:
    it may or may not have been applied. Never re-send it before reading the platform."""


class WritesStopped(ConnectorError):
    """The write guard refused a write before it was sent (the kill switch is on): nothing was sent."""


@dataclass(frozen=True)
class Classified:
    """What a failed call means: retry it (`transient`, maybe after `retry_after` s) or give up."""

    kind: ErrorKind
    message: str
    retry_after: float | None = None
    rate_limited: bool = False
    not_sent: bool = False  # the request never left (connection refused): nothing can have been applied


Classifier = Callable[[BaseException], "Classified | None"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter, bounded in attempts and in total seconds waited."""

    max_attempts: int = 6
    initial_delay: float = 1.0
    max_delay: float = 60.0
    max_total_wait: float = 300.0
    sleep: Sleep = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """The jittered delay after failed attempt number `attempt` (1-based): "equal jitter",
        half fixed so waits keep growing, half random so many clients do not retry in step."""
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class RetryEvent:
    """A retry or a final failure, for whoever counts them (the agent's Prometheus metrics)."""

    platform: str
    account_id: str
    operation: str
    kind: str  # "retry" or "failure"
    wait_seconds: float = 0.0
    rate_limited: bool = False


OBSERVERS: list[Callable[[RetryEvent], None]] = []  # the agent registers its metrics here


def _notify(event: RetryEvent) -> None:
    for observer in OBSERVERS:
        try:
            observer(event)
        except Exception:  # counting must never break a platform call
            log.exception("retry observer failed")


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value (longer than 3 characters) replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) > 3:
            text = text.replace(secret, "***")
    return text


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    classify: Classifier,
    platform: str,
    account_id: str,
    operation: str,
    secrets: Iterable[str] = (),
    write: bool = False,
) -> T:
    """Run `fn`, retrying transient failures per `policy`; raise a `PlatformError` otherwise.

    With `write=True`, `fn` changes something on the platform: it is retried only after errors
    that prove nothing was applied (rate limited, never sent); any other transient failure raises
    `WriteOutcomeUnknown` at once. The write guard, if one is installed, runs before each attempt.

    Exceptions `classify` does not recognise (returns None for) are programming errors and pass
    through untouched.
    """
    secret_values = tuple(secrets)
    where = f"{platform} account {account_id}: {operation}"

    def transient(error: BaseException) -> bool:
        found = classify(error)
        if found is None or found.kind != "transient":
            return False
        return not write or found.rate_limited or found.not_sent

    def wait(state: RetryCallState) -> float:
        found = _classified(state, classify)
        hint = found.retry_after if found else None
        return max(policy.backoff(state.attempt_number), hint or 0.0)

    def stop(state: RetryCallState) -> bool:
        return (state.attempt_number >= policy.max_attempts
                or state.idle_for + state.upcoming_sleep > policy.max_total_wait)

    def before_sleep(state: RetryCallState) -> None:
        found = _classified(state, classify)
        log.warning("%s: %s; retry %d in %.1f s", where, redact(found.message if found else "error", secret_values),
                    state.attempt_number, state.upcoming_sleep)
        _notify(RetryEvent(platform, account_id, operation, "retry", state.upcoming_sleep,
                           bool(found and found.rate_limited)))

    retrying = Retrying(sleep=policy.sleep, wait=wait, stop=stop, retry=retry_if_exception(transient),
                        before_sleep=before_sleep, reraise=True)
    limiter = _LIMITER.get()
    guard = _WRITE_GUARD.get() if write else None

    def attempt() -> T:
        if limiter is None:
            if guard is not None:
                guard()
            return fn()
        with limiter.slot(platform):
            if guard is not None:  # asked as late as possible: right before the request goes out
                guard()
            return fn()

    try:
        return retrying(attempt)
    except Exception as error:
        found = classify(error)
        if found is None:
            raise
        failure = _platform_error(found, retrying, where, platform, account_id, secret_values)
        if write and found.kind == "transient" and not found.rate_limited and not found.not_sent:
            failure = WriteOutcomeUnknown(f"{failure}; the write may have been applied: outcome unknown",
                                          platform=platform, account_id=account_id)
        failure.original = error
        _notify(RetryEvent(platform, account_id, operation, "failure", rate_limited=found.rate_limited))
        raise failure from None


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


_WRITE_GUARD: ContextVar[Callable[[], None] | None] = ContextVar("write_guard", default=None)


@contextmanager
def guarding_writes(guard: Callable[[], None]) -> Iterator[None]:
    """Writes made through `call_with_retry(write=True)` in this context first call `guard`, which
    raises `WritesStopped` to keep the write from being sent."""
    token = _WRITE_GUARD.set(guard)
    try:
        yield
    finally:
        _WRITE_GUARD.reset(token)


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


def _platform_error(found: Classified, retrying: Retrying, where: str, platform: str, account_id: str,
                    secret_values: tuple[str, ...]) -> PlatformError:
    """The PlatformError subclass that says what a final failure means to a caller."""
    message = redact(f"{where} failed: {found.message}", secret_values)
    if found.kind == "auth":
        return PlatformAuthError(message + " (check the account's credentials and access)",
                                 platform=platform, account_id=account_id)
    if found.kind == "invalid":
        return PlatformRequestError(message, platform=platform, account_id=account_id)
    attempts = retrying.statistics.get("attempt_number", 1)
    waited = retrying.statistics.get("idle_for", 0.0)
    message += f" (gave up after {attempts} attempt(s) and {waited:.1f} s of waiting)"
    if found.rate_limited:
        return PlatformRateLimited(message, platform=platform, account_id=account_id, retry_after=found.retry_after)
    return PlatformUnavailable(message, platform=platform, account_id=account_id)


def _classified(state: RetryCallState, classify: Classifier) -> Classified | None:
    outcome = state.outcome
    error = outcome.exception() if outcome is not None and outcome.failed else None
    return classify(error) if error is not None else None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """An HTTP `Retry-After` header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def http_status_kind(status: int) -> ErrorKind | None:
    """How an HTTP status is handled: 429/5xx retried, 401/403 auth, other 4xx invalid."""
    if status == 429 or status >= 500:
        return "transient"
    if status in (401, 403):
        return "auth"
    if 400 <= status < 500:
        return "invalid"
    return None


# -- usage headers (Meta) ---------------------------------------------------------------------

@dataclass(frozen=True)
class Usage:
    """How close to its limit a platform says we are: the highest percentage in its usage
    headers, and how long until access returns if it was already cut off."""

    percent: float = 0.0
    regain_seconds: float = 0.0


def _json_header(headers: Mapping[str, str], name: str) -> object:
    for key, value in headers.items():
        if key.lower() == name:
            try:
                return json.loads(value)
            except (TypeError, ValueError):
                return None
    return None


def meta_usage(headers: Mapping[str, str]) -> Usage:
    """Parse Meta's `x-business-use-case-usage`, `x-ad-account-usage`, `x-app-usage` and
    `x-fb-ads-insights-throttle` headers."""
    percents: list[float] = []
    regain: list[float] = []
    business = _json_header(headers, "x-business-use-case-usage")
    if isinstance(business, dict):
        for entries in business.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    percents += [float(entry.get(k) or 0) for k in ("call_count", "total_cputime", "total_time")]
                    regain.append(float(entry.get("estimated_time_to_regain_access") or 0) * 60)
    account = _json_header(headers, "x-ad-account-usage")
    if isinstance(account, dict):
        percents.append(float(account.get("acc_id_util_pct") or 0))
        if float(account.get("acc_id_util_pct") or 0) >= 100:
            regain.append(float(account.get("reset_time_duration") or 0))
    app = _json_header(headers, "x-app-usage")
    if isinstance(app, dict):
        percents += [float(app.get(k) or 0) for k in ("call_count", "total_cputime", "total_time")]
    # Insights calls also report their own quota, per app and per ad account, in percent
    # (https://developers.facebook.com/docs/marketing-api/insights/best-practices).
    insights = _json_header(headers, "x-fb-ads-insights-throttle")
    if isinstance(insights, dict):
        percents += [float(insights.get(k) or 0) for k in ("app_id_util_pct", "acc_id_util_pct")]
    return Usage(max(percents, default=0.0), max(regain, default=0.0))


class UsageThrottle:
    """Paces calls per key (an ad account) from the usage the platform last reported.

    Below `slow_down_at` percent nothing waits; between it and 100% the pause grows linearly up
    to `max_pause`; once access is cut off, the platform's time to regain access is waited
    (bounded by `max_pause`). Slowing down early is cheaper than a throttling penalty.
    """

    def __init__(self, sleep: Sleep, slow_down_at: float = 75.0, max_pause: float = 60.0) -> None:
        self._sleep = sleep
        self.slow_down_at = slow_down_at
        self.max_pause = max_pause
        self._usage: dict[str, Usage] = {}
        self._lock = threading.Lock()

    def observe(self, key: str, usage: Usage) -> None:
        with self._lock:
            self._usage[key] = usage

    def pause_for(self, key: str) -> float:
        with self._lock:
            usage = self._usage.get(key, Usage())
        if usage.regain_seconds > 0:
            return min(usage.regain_seconds, self.max_pause)
        if usage.percent < self.slow_down_at:
            return 0.0
        share = min(1.0, (usage.percent - self.slow_down_at) / max(1e-9, 100.0 - self.slow_down_at))
        return round(self.max_pause * share, 3)

    def before_call(self, key: str) -> None:
        pause = self.pause_for(key)
        if pause > 0:
            log.info("usage for %s is high; pausing %.1f s before the next call", key, pause)
            self._sleep(pause)
