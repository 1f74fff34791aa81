"""A loopback HTTP proxy that injects the write faults real platforms produce, between a connector
and a fake platform server, without either of them knowing.

For each write request (a POST that is not a read in disguise) it may, at random:

- `late`: forward the request (the platform applies the write), then hold the answer longer than
  the client's timeout before sending it: the client gives up on a write that happened;
- `lost`: forward the request, then close the connection without answering: applied, answer lost;
- `503`: answer 503 Service Unavailable without forwarding: not applied;
- `429`: answer the platform's rate-limit error without forwarding: not applied.

Reads pass through untouched. The proxy counts what it injected and whether the write reached
the platform, so a bench can compare the platform's own mutation record with the agent's.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

FAULTS = ("late", "lost", "503", "429")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "host"}


def rate_limit_answer(platform: str) -> tuple[int, dict[str, str], bytes]:
    """The platform's own rate-limit answer to a write it did not apply."""
    if platform == "meta":
        # Graph API throttling: HTTP 400 with error code 17 ("User request limit reached") and
        # is_transient; https://developers.facebook.com/docs/graph-api/overview/rate-limiting/
        body: dict[str, Any] = {"error": {"code": 17, "error_subcode": 2446079, "is_transient": True, "type": "OAuthException",
                          "message": "(#17) User request limit reached"}}
        return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()
    # LinkedIn Marketing API: HTTP 429 when an application or member limit is reached;
    # https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits
    body = {"status": 429, "code": "TOO_MANY_REQUESTS", "message": "Resource level throttle limit reached"}
    return 429, {"Content-Type": "application/json", "Retry-After": "1"}, json.dumps(body).encode()


class FaultProxy:
    """`FaultProxy(upstream_url, platform, rate=0.3).start()`; point the connector at `.url`.

    `late_seconds` must exceed the connector's client timeout. `max_faults` caps the injections
    (None: no cap); `enabled` switches injection off and on (reads always pass)."""

    def __init__(self, upstream: str, platform: str, *, rate: float, rng: random.Random,
                 late_seconds: float = 1.5, max_faults: int | None = None,
                 is_write: Callable[[str, str, dict[str, str]], bool] | None = None) -> None:
        split = urlsplit(upstream)
        self.upstream_host, self.upstream_port = split.hostname or "127.0.0.1", int(split.port or 80)
        self.platform = platform
        self.rate = rate
        self.rng = rng
        self.late_seconds = late_seconds
        self.max_faults = max_faults
        self.enabled = True
        self.is_write = is_write or default_is_write
        self.injected: Counter[str] = Counter()  # by fault
        self.writes = 0  # write requests seen
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy._handle(self)

            def do_POST(self) -> None:
                proxy._handle(self)

            def log_message(self, *_args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.injected.values())

    def _choose(self, write: bool) -> str | None:
        with self._lock:
            if write:
                self.writes += 1
            capped = self.max_faults is not None and sum(self.injected.values()) >= self.max_faults
            if not write or not self.enabled or capped or self.rng.random() >= self.rate:
                return None
            fault = self.rng.choice(FAULTS)
            self.injected[fault] += 1
            return fault

    def _handle(self, client: BaseHTTPRequestHandler) -> None:
        length = int(client.headers.get("Content-Length") or 0)
        body = client.rfile.read(length) if length else b""
        headers = {k: v for k, v in client.headers.items() if k.lower() not in HOP_HEADERS}
        fault = self._choose(self.is_write(client.command, client.path, headers))
        if fault == "503":
            self._answer(client, 503, {"Content-Type": "text/plain"}, b"Service Unavailable")
            return
        if fault == "429":
            self._answer(client, *rate_limit_answer(self.platform))
            return
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            upstream.request(client.command, client.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            answer_headers = {k: v for k, v in answer.getheaders() if k.lower() not in HOP_HEADERS | {"content-length"}}
        finally:
            upstream.close()
        if fault == "lost":  # applied; the answer never arrives
            client.close_connection = True
            return
        if fault == "late":  # applied; the answer arrives after the client gave up
            time.sleep(self.late_seconds)
        self._answer(client, answer.status, answer_headers, payload)

    @staticmethod
    def _answer(client: BaseHTTPRequestHandler, status: int, headers: dict[str, str], payload: bytes) -> None:
        try:
            client.send_response(status)
            for name, value in headers.items():
                client.send_header(name, value)
            client.send_header("Content-Length", str(len(payload)))
            client.end_headers()
            client.wfile.write(payload)
        except OSError:  # the client had already given up (a late answer)
            client.close_connection = True


def default_is_write(method: str, path: str, headers: dict[str, str]) -> bool:
    """A POST changes something, except a read sent as a POST (Meta's async insights report,
    Rest.li's query tunnelling with `X-HTTP-Method-Override: GET`)."""
    if method != "POST":
        return False
    override = next((v for k, v in headers.items() if k.lower() == "x-http-method-override"), "")
    return override.upper() != "GET" and "/insights" not in urlsplit(path).path
