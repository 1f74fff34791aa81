"""When a request reached a fake HTTP platform: the kernel's receive time of its first bytes.

A platform counts a request against its per-second quota at its front door. A fake stamping the
request when its handler starts counts it late whenever its own process is short of CPU (a bench
runs the agent, three fakes and PostgreSQL on two cores): a request sent on time can be stamped a
few hundred milliseconds later, behind one sent 0.1 s after it. The fakes' servers therefore ask
Linux to timestamp what each socket receives (`SO_TIMESTAMPNS`, inherited by accepted connections)
and the handler peeks at the first byte to read that stamp, before parsing anything. Elsewhere, or
on a second request over a kept-alive connection, the handler's own time is used as before.
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Python's socket module does not name it: Linux's asm-generic value (x86-64, arm64)
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35) if sys.platform.startswith("linux") else None


class StampingHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose connections carry the kernel's receive time of their data."""

    daemon_threads = True

    def server_bind(self) -> None:
        super().server_bind()
        if _SO_TIMESTAMPNS is not None:
            self.socket.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)


class StampedHandler(BaseHTTPRequestHandler):
    """A request handler that knows when its connection's first bytes arrived (`arrival`)."""

    arrived: float | None = None

    def setup(self) -> None:
        super().setup()
        self.arrived = received_at(self.connection)


def received_at(connection: socket.socket) -> float | None:
    """The kernel's receive time of the first byte waiting on `connection`, on `time.perf_counter`'s
    clock (one clock for every process of the machine); None if the platform does not say."""
    if _SO_TIMESTAMPNS is None:
        return None
    try:
        _data, ancillary, _flags, _address = connection.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
    except OSError:
        return None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
            seconds, nanoseconds = struct.unpack("qq", payload[:16])
            return seconds + nanoseconds / 1e9 - (time.time() - time.perf_counter())
    return None


def arrival(http: BaseHTTPRequestHandler) -> float | None:
    """When the request being handled reached the server, if known: taken once, so a second request
    over the same connection falls back to the handler's own time."""
    arrived = getattr(http, "arrived", None)
    if arrived is not None:
        http.arrived = None  # type: ignore[attr-defined]
    return arrived
