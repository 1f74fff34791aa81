"""Shared retry policies: back-off, platform hints, usage headers, fast failures, redaction."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from connectors.errors import (
    PlatformAuthError,
    PlatformRateLimited,
    PlatformRequestError,
    PlatformUnavailable,
)
from connectors.meta.usage import Usage, UsageThrottle, meta_usage
from connectors.retry import (
    Classified,
    RetryPolicy,
    call_with_retry,
    redact,
    retry_after_seconds,
)


class Boom(Exception):
    def __init__(self, kind: str, retry_after: float | None = None, rate_limited: bool = False) -> None:
        super().__init__(kind)
        self.classified = Classified(kind, f"boom ({kind}) token=SECRET-TOKEN", retry_after, rate_limited)  # type: ignore[arg-type]


def classify(error: BaseException) -> Classified | None:
    return error.classified if isinstance(error, Boom) else None


def flaky(failures: list[BaseException], result: str = "ok"):
    calls = []

    def fn() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def run(fn, sleeps: list[float], **policy: float):
    return call_with_retry(fn, policy=RetryPolicy(sleep=sleeps.append, rng=random.Random(3), **policy),  # type: ignore[arg-type]
                           classify=classify, platform="meta", account_id="acct-9", operation="insights",
                           secrets=["SECRET-TOKEN"])


def test_backoff_grows_with_equal_jitter_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=1, max_delay=8, rng=random.Random(0))
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (7, 8)]:
        delay = policy.backoff(attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_transient_errors_are_retried_and_the_hint_is_a_floor() -> None:
    sleeps: list[float] = []
    fn = flaky([Boom("transient", retry_after=30), Boom("transient")])
    assert run(fn, sleeps) == "ok"
    assert sleeps[0] == 30 and 1 <= sleeps[1] <= 2


def test_attempts_are_bounded_and_the_error_names_the_account_without_secrets() -> None:
    sleeps: list[float] = []
    with pytest.raises(PlatformUnavailable) as raised:
        run(flaky([Boom("transient") for _ in range(10)]), sleeps, max_attempts=3)
    assert len(sleeps) == 2
    assert "acct-9" in str(raised.value) and "SECRET-TOKEN" not in str(raised.value)
    assert "3 attempt(s)" in str(raised.value)


def test_total_wait_is_bounded() -> None:
    sleeps: list[float] = []
    with pytest.raises(PlatformRateLimited) as raised:
        run(flaky([Boom("transient", 40, True) for _ in range(10)]), sleeps, max_total_wait=100)
    assert sleeps == [40, 40] and raised.value.retry_after == 40


@pytest.mark.parametrize(("kind", "error"), [("auth", PlatformAuthError), ("invalid", PlatformRequestError)])
def test_auth_and_validation_errors_fail_fast(kind: str, error: type[Exception]) -> None:
    sleeps: list[float] = []
    fn = flaky([Boom(kind)])
    with pytest.raises(error) as raised:
        run(fn, sleeps)
    assert sleeps == [] and len(fn.calls) == 1
    assert "meta account acct-9" in str(raised.value) and "SECRET-TOKEN" not in str(raised.value)


def test_unknown_exceptions_pass_through_untouched() -> None:
    with pytest.raises(ZeroDivisionError):
        run(flaky([ZeroDivisionError()]), [])


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("17") == 17
    assert retry_after_seconds("Mon, 23 Nov 2026 12:00:30 GMT", now=now) == 30
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_meta_usage_headers() -> None:
    headers = {
        "x-business-use-case-usage": json.dumps({"123": [{"type": "ads_management", "call_count": 81,
                                                          "total_cputime": 12, "total_time": 20,
                                                          "estimated_time_to_regain_access": 0}]}),
        "X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 64.5, "reset_time_duration": 120}),
    }
    assert meta_usage(headers) == Usage(81.0, 0.0)
    blocked = {"x-business-use-case-usage": json.dumps({"123": [{"call_count": 100,
                                                                "estimated_time_to_regain_access": 3}]})}
    assert meta_usage(blocked) == Usage(100.0, 180.0)


def test_throttle_slows_down_before_the_limit() -> None:
    sleeps: list[float] = []
    throttle = UsageThrottle(sleeps.append, slow_down_at=75, max_pause=60)
    throttle.observe("act_1", Usage(50))
    throttle.before_call("act_1")
    throttle.observe("act_1", Usage(90))
    throttle.before_call("act_1")
    throttle.observe("act_1", Usage(100, regain_seconds=600))
    throttle.before_call("act_1")
    throttle.before_call("act_2")
    assert sleeps == [36.0, 60.0]


def test_redact() -> None:
    assert redact("token abc123 and xyz", ["abc123", "", "x"]) == "token *** and xyz"


def test_retries_and_failures_reach_the_agents_metrics() -> None:
    from prometheus_client import generate_latest

    from agent import prometheus as metrics
    from connectors.retry import Classified, RetryPolicy, call_with_retry

    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("slow")
        return "ok"

    def classify(error: BaseException) -> Classified | None:
        return Classified(kind="transient", message=str(error), retry_after=2.0, rate_limited=True)

    before = generate_latest(metrics.REGISTRY).decode()
    assert call_with_retry(flaky, policy=RetryPolicy(sleep=lambda _s: None), classify=classify,
                           platform="metricsplatform", account_id="a", operation="report") == "ok"
    after = generate_latest(metrics.REGISTRY).decode()
    assert 'pma_platform_api_retries_total{platform="metricsplatform"} 2.0' in after
    assert 'pma_rate_limit_wait_seconds_total{platform="metricsplatform"}' in after
    assert "metricsplatform" not in before
