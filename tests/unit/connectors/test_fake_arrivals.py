"""The fakes count a request from when it reached their socket, not from when their busy process got
round to it (tests/fakes/arrivals.py): the per-second quota a platform enforces at its front door."""

from __future__ import annotations

import socket
import sys
import threading
import time

import pytest

from bench.cycle_world import TimedTraffic
from tests.fakes.arrivals import StampedHandler, StampingHTTPServer, arrival

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernel receive stamps are Linux's")


def test_a_request_is_counted_when_it_reached_the_socket_though_the_fake_handled_it_later() -> None:
    # four requests 0.35 s apart reach the socket while the fake is too busy to serve (here: not yet
    # serving), then are handled within milliseconds of each other: at a quota of three a second, the
    # handler's own time would count one over the quota; the platform's door counts none
    traffic = TimedTraffic(latency=0.0, per_second=3)
    handled: list[float] = []

    class Handler(StampedHandler):
        def do_GET(self) -> None:
            handled.append(time.perf_counter())
            with traffic.request("get:x", arrival(self)):
                pass
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = StampingHTTPServer(("127.0.0.1", 0), Handler)
    clients: list[socket.socket] = []
    sent: list[float] = []
    try:
        for _ in range(4):
            client = socket.create_connection(server.server_address[:2])
            clients.append(client)
            sent.append(time.perf_counter())
            client.sendall(b"GET /x HTTP/1.0\r\n\r\n")
            time.sleep(0.35)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        for client in clients:
            client.settimeout(10)
            assert client.recv(64).startswith(b"HTTP/1.0 204")
    finally:
        server.shutdown()
        server.server_close()
        for client in clients:
            client.close()
    assert len(handled) == 4 and min(handled) > sent[-1]  # every one handled after the last was sent
    started = sorted(traffic.figures()["start_times"])
    assert [round(t - s, 2) for t, s in zip(started, sent, strict=True)] == [0.0] * 4  # counted when sent
    assert traffic.rate_violations == 0
