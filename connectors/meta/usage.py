"""Meta's usage headers, and the throttle that slows calls down before Meta cuts them off."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.retry import Sleep

log = logging.getLogger(__name__)


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

    def forget(self, key: str) -> None:
        """Drop what the platform last reported for `key` (it refused a call: its time to regain access
        is waited by the retry, and access returns only below the limit)."""
        with self._lock:
            self._usage.pop(key, None)

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
