"""What the JSON-over-HTTP fakes of the platforms' upload endpoints share: a threaded server on
127.0.0.1, one lock around the fake's state, injected faults (`faults.inject(kind)`: server_error
answers 500 and applies nothing, drop_answer applies the request and closes the connection unanswered)
and a JSON answer. A subclass says which methods it serves, how a request is logged, which fault kind
it is, the body of a 500, and how it is answered (`handle`, raising `Answer` for an error)."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from tests.fakes.platform_fixtures import Faults, after_write


class Answer(Exception):
    """Answer the request with this status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status, self.body = status, body


class JsonHttpFake:
    methods: tuple[str, ...] = ("POST",)
    server_error: dict[str, Any] = {"error": {"message": "Internal error", "is_transient": True}}

    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: list[Any] = []
        self._lock = threading.Lock()
        fake = self
        handler = type("Handler", (BaseHTTPRequestHandler,), {
            **{f"do_{method}": (lambda m: lambda http: fake._serve(http, m))(method) for method in self.methods},
            "log_message": lambda *_args: None})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def log(self, http: BaseHTTPRequestHandler, method: str, body: str) -> None:
        self.requests.append(body)

    def fault_kind(self, method: str, path: str) -> str:
        return method.lower()

    def handle(self, http: BaseHTTPRequestHandler, method: str, body: str) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def _serve(self, http: BaseHTTPRequestHandler, method: str) -> None:
        body = http.rfile.read(int(http.headers.get("Content-Length") or 0)).decode()
        self.log(http, method, body)
        fault = self.faults.take(self.fault_kind(method, http.path.split("?")[0]))
        try:
            if fault is not None and fault.kind == "server_error":
                raise Answer(500, self.server_error)
            with self._lock:
                status, answer = self.handle(http, method, body)
            if after_write(fault):
                http.close_connection = True
                return
        except Answer as error:
            status, answer = error.status, error.body
        data = json.dumps(answer).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            http.send_response(status)
            http.send_header("Content-Type", "application/json")
            http.send_header("Content-Length", str(len(data)))
            http.end_headers()
            http.wfile.write(data)
