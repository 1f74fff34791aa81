"""LinkedIn's REST transport: one versioned Rest.li 2.0 call over httpx, its failures as the
retry policy reads them, and the daily quota that a 429 without `Retry-After` means."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.errors import PlatformRateLimited
from connectors.linkedin.reports import PLATFORM, LinkedInAccount
from connectors.retry import Classified, http_status_kind, retry_after_seconds
from connectors.sent_requests import httpx_trace

DEFAULT_BASE_URL = "https://api.linkedin.com"
# A version LinkedIn lists as active (Marketing August 2026, "Recent Marketing API Changes" and the
# migrations table, https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations):
# LinkedIn skips months (no 202512) and sunsets each version about a year after its release, so
# this pin is moved forward at least once a year. A sunset or unknown one fails every call (426).
DEFAULT_VERSION = "202608"
VERSION_DOCS = "https://learn.microsoft.com/en-us/linkedin/marketing/versioning"


class HttpFailure(Exception):
    """A non-2xx answer (or an unreadable 2xx body), with what the retry policy needs."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after = retry_after


def classify(error: BaseException) -> Classified | None:
    if isinstance(error, HttpFailure):
        kind = http_status_kind(error.status) or "invalid"
        return Classified(kind, str(error), error.retry_after, rate_limited=error.status == 429)
    if isinstance(error, httpx.TimeoutException | httpx.TransportError):
        # a connection that was never made sent nothing; a read timeout or reset may follow a write that landed
        return Classified("transient", f"{type(error).__name__}: network trouble",
                          not_sent=isinstance(error, httpx.ConnectError | httpx.ConnectTimeout))
    return None


class RestClient:
    """One httpx client (thread-safe) shared by all accounts, with LinkedIn's version headers."""

    def __init__(self, *, base_url: str, version: str, transport: httpx.BaseTransport | None, timeout: float,
                 now: Callable[[], datetime]) -> None:
        self._now = now
        self._extensions = {"trace": httpx_trace(PLATFORM)}  # the per-second quota counts from the send itself
        self._client = httpx.Client(base_url=base_url, transport=transport, timeout=timeout, headers={
            "LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0"})

    def close(self) -> None:
        self._client.close()

    def send(self, account: LinkedInAccount, method: str, path: str, query: str = "", json_body: Any = None,
              headers: Mapping[str, str] | None = None) -> tuple[Any, httpx.Headers]:
        """One REST call, not retried: (JSON body or None, response headers). `query` is pre-encoded
        Rest.li 2.0 (httpx must not re-encode it)."""
        url = f"{path}?{query}" if query else path
        auth = {"Authorization": f"Bearer {account.credentials.get('access_token', '')}", **(headers or {})}
        response = self._client.request(method, url, json=json_body, headers=auth, extensions=self._extensions)
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message") or response.text)
            except ValueError:
                message = response.text[:200]
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if response.status_code == 426:  # NONEXISTENT_VERSION: "Requested version X is not active"
                version = self._client.headers.get("LinkedIn-Version")
                message = (f"LinkedIn refused the header LinkedIn-Version: {version} ({message}); the version is "
                           f"unknown or sunset, pin an active one (see {VERSION_DOCS})")
            elif response.status_code == 429 and retry_after is None:
                raise self._daily_quota(account, message)
            raise HttpFailure(response.status_code, message, retry_after)
        if response.status_code == 204 or not response.content:
            return None, response.headers
        try:
            return response.json(), response.headers
        except ValueError:
            raise HttpFailure(502, f"unreadable {len(response.content)}-byte answer") from None

    def _daily_quota(self, account: LinkedInAccount, message: str) -> PlatformRateLimited:
        """A 429 without `Retry-After` is a daily quota: LinkedIn resets every quota at midnight UTC
        (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits), so
        retrying within minutes is futile. Fail at once, saying when it resets."""
        now = self._now().astimezone(UTC)
        reset = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        wait = (reset - now).total_seconds()
        return PlatformRateLimited(
            f"{PLATFORM} account {account.account_id}: daily API quota reached (HTTP 429: {message}); LinkedIn "
            f"resets it at {reset:%Y-%m-%d %H:%M} UTC, in {int(wait // 3600)} h {int(wait % 3600 // 60)} min; "
            "not retried before then", platform=PLATFORM, account_id=account.account_id, retry_after=wait)
