"""The facebook-business SDK set up for one ad account, and what Graph API errors mean.

Every HTTP call of the SDK (node reads, cursor pages, async report polls, batches) goes through
`PacedApi.call`, which is where usage headers are read and the pace is slowed before Meta
throttles us. `FacebookAdsApi.init` is never called: its default `crash_log=True` installs an
exception hook that posts our tracebacks to Meta.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from facebook_business.api import FacebookAdsApi, FacebookResponse
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from connectors.errors import TruncatedResponse
from connectors.meta.records import PLATFORM
from connectors.meta.usage import UsageThrottle, meta_usage
from connectors.retry import Classified, http_status_kind
from connectors.sent_requests import SentReportingAdapter

API_VERSION = "v26.0"
# Codes Meta documents as rate limiting (app, user, page, ads management, business use case).
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613} | set(range(80000, 80015)))
AUTH_CODES = frozenset({102, 190, 200, 10, 273, 275, 294})
TRANSIENT_CODES = frozenset({1, 2})
TOO_MUCH_DATA = (100, 1504018)  # "reduce the amount of data": use an async report run instead


class PacedApi(FacebookAdsApi):
    """`FacebookAdsApi` that paces itself from usage headers and counts its requests."""

    def __init__(self, session: FacebookSession, throttle: UsageThrottle, key: str) -> None:
        super().__init__(session, api_version=API_VERSION)
        self._throttle = throttle
        self._key = key
        self.requests = 0
        self._count_lock = threading.Lock()

    def call(self, method: str, path: Any, params: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, files: Any = None, url_override: str | None = None,
             api_version: str | None = None) -> FacebookResponse:
        self._throttle.before_call(self._key)
        with self._count_lock:
            self.requests += 1
        try:
            response: FacebookResponse = super().call(method, path, params=params, headers=headers, files=files,
                                                      url_override=url_override, api_version=api_version)
        except FacebookRequestError as error:
            if error.api_error_code() in RATE_LIMIT_CODES:
                # The retry waits out this refusal's own time to regain access; the reading that led
                # here is stale after it, and pausing on it again would wait a second time.
                self._throttle.forget(self._key)
            raise
        # Pacing follows the usage reported by calls that went through.
        self._throttle.observe(self._key, meta_usage(dict(response.headers() or {})))
        if response.status() == 200 and not isinstance(response.json(), dict | list):
            raise TruncatedResponse(f"unparseable {len(response.body() or '')}-byte answer from {method} {path}")
        return response


def build_api(credentials: Mapping[str, str], throttle: UsageThrottle, key: str, graph_url: str | None = None,
              timeout: float | None = None) -> PacedApi:
    """An API object for one account's credentials; `graph_url` points it at a local fake."""
    session = FacebookSession(app_id=credentials.get("app_id"), app_secret=credentials.get("app_secret"),
                              access_token=credentials.get("access_token"), timeout=timeout)
    if graph_url:
        session.GRAPH = graph_url
    adapter = SentReportingAdapter(PLATFORM)  # the per-second quota counts from the send itself
    session.requests.mount("https://", adapter)
    session.requests.mount("http://", adapter)
    return PacedApi(session, throttle, key)


def classify(error: BaseException) -> Classified | None:
    """Rate limits, transient and 5xx errors are retried; auth and invalid requests fail fast."""
    import requests

    if isinstance(error, FacebookRequestError):
        code, subcode = error.api_error_code(), error.api_error_subcode()
        message = f"({code}/{subcode}) {error.api_error_message() or error.get_message()}"
        usage = meta_usage(dict(error.http_headers() or {}))
        hint = usage.regain_seconds or None
        if code in RATE_LIMIT_CODES:
            return Classified("transient", message, hint, rate_limited=True)
        if code in AUTH_CODES or error.http_status() in (401, 403):
            return Classified("auth", message)
        if error.api_transient_error() or code in TRANSIENT_CODES:
            return Classified("transient", message, hint)
        kind = http_status_kind(error.http_status() or 0)
        if kind == "transient" or (code is None and (error.http_status() or 0) >= 500):
            return Classified("transient", f"HTTP {error.http_status()}: {message}", hint,
                              rate_limited=error.http_status() == 429)
        return Classified(kind or "invalid", message)
    if isinstance(error, TruncatedResponse):
        return Classified("transient", str(error))
    if isinstance(error, requests.Timeout | requests.ConnectionError):
        # a connection that was never made sent nothing; a read timeout or reset may follow a write that landed
        return Classified("transient", f"{type(error).__name__}: network trouble",
                          not_sent=isinstance(error, requests.ConnectTimeout) or _refused(error))
    return None


def _refused(error: BaseException) -> bool:
    """A connection refused before any byte was sent (urllib3's NewConnectionError underneath)."""
    seen: object = error
    for _ in range(8):  # requests -> urllib3 MaxRetryError -> .reason NewConnectionError
        if type(seen).__name__ == "NewConnectionError" or isinstance(seen, ConnectionRefusedError):
            return True
        if not isinstance(seen, BaseException):
            return False
        inner = getattr(seen, "reason", None)
        seen = inner if isinstance(inner, BaseException) else (seen.args[0] if seen.args else None)
    return False


def is_too_much_data(error: BaseException) -> bool:
    return isinstance(error, FacebookRequestError) and (
        error.api_error_code(), error.api_error_subcode()) == TOO_MUCH_DATA

