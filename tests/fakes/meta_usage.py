"""Usage that rises under load, for the fake Graph API: calls counted per ad account and per app in a
rolling window, reported in Meta's usage headers, and refused once a count would pass its allowance.

What Meta documents, and how the fake follows it:

- Marketing API calls fall under Business Use Case (BUC) limits, counted per ad account: for
  `ads_management`, "for each ad account in a one-hour time period: (100000 if your app is in the
  Standard tier or 300 if your app is in the Dev tier) + 40 * Num of Active ads"
  (https://developers.facebook.com/docs/marketing-api/overview/rate-limiting; the May 2026 page,
  https://developers.facebook.com/documentation/ads-commerce/marketing-api/overview/rate-limiting,
  renames the tiers "Limited" and "Full" access). Going over it answers error code 17, subcode
  2446079, "User request limit reached", and "calls will start to succeed again when usage over the
  past hour falls back below the limit" (https://developers.facebook.com/docs/graph-api/advanced/rate-limiting).
- `x-business-use-case-usage` maps the business object id (the ad account's digits) to entries with
  `type` (`ads_management`, `ads_insights`, ...), `call_count`, `total_cputime` and `total_time` (each
  a whole percent of the allowance) and `estimated_time_to_regain_access` (minutes, 0 unless
  throttled); `x-ad-account-usage` has `acc_id_util_pct`, `reset_time_duration` (seconds) and
  `ads_api_access_tier`, and `x-app-usage` has `call_count`, `total_cputime` and `total_time` over a
  rolling hour (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/). The app-level
  limit of Graph (`200 * Number of Users` calls an hour, error code 4) does not count Marketing API
  calls ("excluded from all the Graph API rate limitations"), and Meta publishes no app figure for
  them: `app_allowance` is the caller's choice, off by default.

Simplifications: every call to an ad account counts against its one allowance, insights included
(Meta counts those in a separate `ads_insights` use case with a larger allowance per active ad), so
the fake reports at least Meta's usage; CPU and time are not modelled (reported as 0); a refused call
is not counted; calls within a batch count one by one, against the account of each.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

HOUR = 3600.0
ADS_MANAGEMENT_BASE = {"standard": 100_000, "development": 300}  # calls an hour per ad account, by tier
ADS_MANAGEMENT_PER_ACTIVE_AD = 40


def ads_management_allowance(active_ads: int, tier: str = "standard", window: float = HOUR) -> float:
    """Calls one ad account may make within `window` seconds: Meta's hourly `ads_management` formula,
    scaled by `window / 3600` (a bench compressing time keeps the rate of calls Meta allows)."""
    return (ADS_MANAGEMENT_BASE[tier] + ADS_MANAGEMENT_PER_ACTIVE_AD * active_ads) * window / HOUR


@dataclass(frozen=True)
class Refusal:
    """A call over an allowance: whose (`account` or `app`) and when one more call would fit."""

    limit: str
    regain_seconds: float


class LoadUsage:
    """Calls per ad account and per app within a rolling `window` of `clock` seconds.

    `account_allowance` is what one ad account may call within the window (see
    `ads_management_allowance`); `app_allowance`, if given, what all calls together may. Meta's
    window is an hour: a bench compresses time with a shorter window and the allowances scaled to
    it (a 60 s window with the hourly allowance x 60 / 3600 allows the same rate of calls, so the
    calls of a cycle that lasts under a minute read as that pace kept up for the hour). Tests pass a
    `clock` they move themselves.
    """

    def __init__(self, account_allowance: float, *, window: float = HOUR, app_allowance: float | None = None,
                 clock: Callable[[], float] = time.monotonic, tier: str = "standard") -> None:
        if account_allowance < 1 or (app_allowance is not None and app_allowance < 1):
            raise ValueError("an allowance below one call per window refuses every call")
        self.account_allowance = account_allowance
        self.app_allowance = app_allowance
        self.window = window
        self.tier = tier
        self._clock = clock
        self._accounts: dict[str, deque[float]] = defaultdict(deque)
        self._app: deque[float] = deque()
        self._lock = threading.Lock()

    def _current(self, calls: deque[float], now: float) -> deque[float]:
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        return calls

    def _refusal(self, calls: deque[float], allowance: float, now: float, limit: str) -> Refusal | None:
        fits = math.floor(allowance)
        if len(calls) < fits:
            return None
        # one more call fits once all but fits - 1 of these calls have left the window
        return Refusal(limit, calls[len(calls) - fits] + self.window - now)

    def charge(self, account: str | None) -> Refusal | None:
        """Count one call to `account` (an `act_` id; None: no ad account), or refuse it if it would
        take the account's or the app's count past its allowance."""
        with self._lock:
            now = self._clock()
            app = self._current(self._app, now)
            calls = None if account is None else self._current(self._accounts[account], now)
            refusal = None if calls is None else self._refusal(calls, self.account_allowance, now, "account")
            if refusal is None and self.app_allowance is not None:
                refusal = self._refusal(app, self.app_allowance, now, "app")
            if refusal is not None:
                return refusal
            if calls is not None:
                calls.append(now)
            app.append(now)
            return None

    def clear(self) -> None:
        """Forget every call counted, as if a whole window had passed (a bench between cycles an hour apart)."""
        with self._lock:
            self._accounts.clear()
            self._app.clear()

    def percents(self, account: str | None) -> tuple[float, float | None]:
        """The account's usage and the app's (None without an app allowance), in percent, now."""
        with self._lock:
            now = self._clock()
            calls = 0 if account is None else len(self._current(self._accounts[account], now))
            app = len(self._current(self._app, now))
        app_percent = None if self.app_allowance is None else 100 * app / self.app_allowance
        return 100 * calls / self.account_allowance, app_percent

    def headers(self, account: str | None, refusal: Refusal | None = None) -> tuple[dict[str, str], float]:
        """The usage headers of an answer about `account`, and the highest percent in them. Refused: at
        100% or more of the limit it passed; over the account's, with the time to regain access (the
        app's headers carry none)."""
        account_percent, app_percent = self.percents(account)
        regain = 0.0
        if refusal is not None and refusal.limit == "account":
            account_percent, regain = max(account_percent, 100.0), refusal.regain_seconds
        if refusal is not None and refusal.limit == "app" and app_percent is not None:
            app_percent = max(app_percent, 100.0)
        # Meta gives whole minutes; the exact time keeps a compressed window's hint meaningful.
        minutes = math.ceil(regain) / 60
        headers = {
            "x-business-use-case-usage": json.dumps({(account or "act_0").removeprefix("act_"): [{
                "type": "ads_management", "call_count": math.floor(account_percent), "total_cputime": 0,
                "total_time": 0, "estimated_time_to_regain_access": minutes}]}),
            "x-ad-account-usage": json.dumps({
                "acc_id_util_pct": round(account_percent, 2), "reset_time_duration": math.ceil(regain),
                "ads_api_access_tier": f"{self.tier}_access"}),
        }
        if app_percent is not None:
            headers["x-app-usage"] = json.dumps({"call_count": math.floor(app_percent), "total_cputime": 0,
                                                 "total_time": 0})
        return headers, max(round(account_percent, 2), round(app_percent or 0.0, 2))
