"""A local stand-in for OpenAI's chat-completions endpoint, for the real `openai` SDK.

Point `OpenAI(base_url=server.base_url, api_key="test")` at it. Each POST to
`/v1/chat/completions` takes the next scripted reply (the last one repeats): a structured answer
(`variants(...)`), raw content (`content(...)`, e.g. malformed JSON), an HTTP error (`error(429)`,
`error(500)`), or any of these after a delay longer than the client's timeout (`delayed(...)`).
Every request body is recorded for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


def completion(content: str | None, finish_reason: str = "stop", refusal: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1790000000, "model": "test-model",
        "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def variants(*items: dict[str, Any]) -> Reply:
    """A well-formed structured answer with these variants."""
    full = [{"call_to_action": None, "rationale": "test", **item} for item in items]
    return Reply(body=completion(json.dumps({"variants": full})))


def content(text: str | None, finish_reason: str = "stop", refusal: str | None = None) -> Reply:
    return Reply(body=completion(text, finish_reason, refusal))


def error(status: int, code: str | None = None, retry_after: str | None = None) -> Reply:
    body = {"error": {"message": f"test error {status}", "type": "test", "param": None, "code": code}}
    return Reply(status=status, body=body, headers=(("retry-after", retry_after),) if retry_after else ())


def delayed(seconds: float, reply: Reply) -> Reply:
    return Reply(reply.status, reply.body, seconds, reply.headers)


@dataclass
class FakeOpenAI:
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append(body)
            if not self.script:
                return error(500)
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                reply = fake.next_reply(body) if self.path == "/v1/chat/completions" else error(404)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers:
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the http.server name)
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
