"""A local stand-in for Slack's Web API: records calls and answers like Slack does.

Point `slack_sdk.WebClient(base_url=server.base_url)` at it. Only the methods the agent uses are
answered (`chat.postMessage`, `chat.update`, `chat.postEphemeral`, `auth.test`); anything else,
or a wrong bot token, gets Slack's `{"ok": false, "error": ...}` shape.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class SlackCall:
    method: str
    params: dict[str, Any]
    token: str


@dataclass
class FakeSlack:
    token: str
    calls: list[SlackCall] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # method -> error code for its next call
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def named(self, method: str) -> list[SlackCall]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def fail_next(self, method: str, error: str) -> None:
        self.failures[method] = error

    def answer(self, method: str, params: dict[str, Any], token: str) -> dict[str, Any]:
        with self.lock:
            self.calls.append(SlackCall(method, params, token))
            if token != self.token:
                return {"ok": False, "error": "invalid_auth"}
            if method in self.failures:
                return {"ok": False, "error": self.failures.pop(method)}
            if method == "auth.test":
                return {"ok": True, "user_id": "UBOT", "team_id": "T1"}
            if method == "chat.postMessage":
                ts = f"1790000000.{next(self._ts):06d}"
                return {"ok": True, "channel": params.get("channel"), "ts": ts,
                        "message": {"text": params.get("text"), "ts": ts}}
            if method == "chat.update":
                return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts"),
                        "text": params.get("text")}
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": f"1790000000.{next(self._ts):06d}"}
            return {"ok": False, "error": "unknown_method"}

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                    for key in ("blocks", "attachments"):
                        if isinstance(params.get(key), str):
                            params[key] = json.loads(params[key])
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
                method = self.path.rsplit("/", 1)[-1]
                body = json.dumps(fake.answer(method, params, token)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-slack",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
