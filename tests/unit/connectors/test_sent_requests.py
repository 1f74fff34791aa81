"""The Meta SDK's session and LinkedIn's client report each request as sent (connectors/sent_requests.py),
so the per-second quota counts a request from when it reached the platform, not from its answer.

A local server holds the first request's answer until a second request arrives. With a quota of one
request a second, the second may only go out once the limiter counts the first from its send: counted
from the end of its slot, it would wait for an answer that waits for it. No timing is asserted; the
server's patience only turns a broken hook into a failure instead of a hang.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.linkedin.reports import LinkedInAccount
from connectors.linkedin.transport import RestClient
from connectors.meta.api import build_api
from connectors.meta.usage import UsageThrottle
from connectors.request_limits import RequestLimiter, limiting_requests

PATIENCE = 10.0


class HoldFirstAnswer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrivals = 0
        self.second_arrived = threading.Event()
        self.first_answered_after_second: list[bool] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: HoldFirstAnswer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        with self.server.lock:
            self.server.arrivals += 1
            first = self.server.arrivals == 1
        if first:
            self.server.first_answered_after_second.append(self.server.second_arrived.wait(PATIENCE))
        else:
            self.server.second_arrived.set()
        body = json.dumps({"id": "1", "elements": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[HoldFirstAnswer]:
    served = HoldFirstAnswer()
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


def _two_requests(platform: str, request: Callable[[], object]) -> None:
    """Two threads, each one request in its own slot of a one-a-second quota."""
    limiter = RequestLimiter(lambda _p: 2, per_second={platform: 1})

    def one() -> None:
        with limiting_requests(limiter), limiter.slot(platform):
            request()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3 * PATIENCE)


def test_the_meta_sdk_session_reports_its_sends(server: HoldFirstAnswer) -> None:
    api = build_api({"access_token": "token"}, UsageThrottle(lambda _s: None), "act_1", graph_url=server.url)
    _two_requests("meta", lambda: api.call("GET", ("act_1",)))
    assert server.arrivals == 2
    assert server.first_answered_after_second == [True]


def test_the_linkedin_client_reports_its_sends(server: HoldFirstAnswer) -> None:
    client = RestClient(base_url=server.url, version="202608", transport=None, timeout=3 * PATIENCE,
                        now=lambda: None)  # type: ignore[arg-type, return-value]
    account = LinkedInAccount("li-1", "1", "one", "UTC", {"access_token": "token"})
    try:
        _two_requests("linkedin", lambda: client.send(account, "GET", "/rest/adAccounts/1"))
    finally:
        client.close()
    assert server.arrivals == 2
    assert server.first_answered_after_second == [True]
