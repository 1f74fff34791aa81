"""Transports that tell the request limiter the moment a request went out.

A platform counts its per-second quota by the requests it receives. The limiter
(connectors/request_limits.py) counts a request from when it was sent, and from the end of its slot
when the transport does not say; these hooks let it count from the send itself, so the quota is
spent as the platform sees it and no earlier:

- `SentReportingAdapter`: a `requests` adapter (the Meta SDK's session) whose connections report
  once a request's headers and body are written;
- `httpx_trace(platform)`: httpx's documented `trace` request extension, reporting when the request
  headers are written (LinkedIn).

Google's gRPC channel has no such hook here: its requests count from the end of their slot.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from connectors.request_limits import request_sent


def _reporting(connection: type[HTTPConnection], platform: str) -> type[HTTPConnection]:
    class Reporting(connection):  # type: ignore[valid-type, misc]
        def request(self, *args: Any, **kwargs: Any) -> None:
            try:
                super().request(*args, **kwargs)
            finally:  # a request that failed half-way may have reached the platform: count it
                request_sent(platform)

    return Reporting


@cache
def _reporting_pools(platform: str) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3's pools by scheme, with connections that report their sends for `platform`."""
    return {"http": type("ReportingHTTPPool", (HTTPConnectionPool,),
                         {"ConnectionCls": _reporting(HTTPConnection, platform)}),
            "https": type("ReportingHTTPSPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": _reporting(HTTPSConnection, platform)})}


class SentReportingAdapter(HTTPAdapter):
    """`requests`' own adapter, whose connections report each request sent for `platform`."""

    def __init__(self, platform: str, **kwargs: Any) -> None:
        self._platform = platform
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _reporting_pools(self._platform)


def httpx_trace(platform: str) -> Callable[[str, dict[str, Any]], None]:
    """A `trace` extension for httpx requests of `platform`: reports the send once its headers are out."""

    def trace(event: str, _info: dict[str, Any]) -> None:
        if event.endswith(".send_request_headers.complete"):
            request_sent(platform)

    return trace
