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

Every attempt also takes a slot of the caller's `RequestLimiter` (`connectors/request_limits.py`),
if one is installed: back-off waits hold no slot.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

from connectors.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformRateLimited,
    PlatformRequestError,
    PlatformUnavailable,
    WriteOutcomeUnknown,
)
from connectors.request_limits import current_limiter

log = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], None]
ErrorKind = Literal["transient", "auth", "invalid"]


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
    limiter = current_limiter()
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
