"""Request bodies read with a size bound and a time bound, while they stream in.

A body over the limit is refused (413) as soon as its declared length or its received bytes pass the
limit: nothing beyond the limit is ever held in memory, parsed or hashed. A client that stops sending
halfway gets 408 after `BODY_TIMEOUT_SECONDS`, instead of holding a worker forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from agent.errors import BodyTimeout, BodyTooLarge

DEFAULT_BODY_LIMIT = 64 * 1024
BODY_TIMEOUT_SECONDS = 15.0

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


def declared_length(headers: Any) -> int | None:
    """Content-Length as a number; None when absent. A malformed one counts as too large."""
    value = headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 19 else 2**63


class LimitedReceive:
    """Wraps an ASGI `receive`: counts body bytes and raises past the limit or the deadline."""

    def __init__(self, receive: Receive, limit: int, timeout: float = BODY_TIMEOUT_SECONDS) -> None:
        self.receive, self.limit, self.timeout = receive, limit, timeout
        self.received = 0
        self._deadline: float | None = None

    async def __call__(self) -> Message:
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + self.timeout
        try:
            message = await asyncio.wait_for(self.receive(), max(0.0, self._deadline - loop.time()))
        except TimeoutError:
            raise BodyTimeout() from None
        if message.get("type") == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                raise BodyTooLarge(self.limit)
        return message


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (BodyTooLarge) as soon as it passes `limit` bytes."""
    length = declared_length(request.headers)
    if length is not None and length > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
