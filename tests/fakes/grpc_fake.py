"""What the in-process gRPC fakes of Google's APIs share: a server on 127.0.0.1 (a free port), the log of
requests by kind, injected faults (`faults.inject(kind)`: drop_answer applies the request then answers
UNAVAILABLE, unavailable applies nothing) and one lock around the fake's state."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

import grpc

from tests.fakes.platform_fixtures import Faults, after_write


class Abort(Exception):
    """Answer the request with this gRPC status (and, for the Google Ads API, its failure details)."""

    def __init__(self, code: grpc.StatusCode, message: str, failure: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.failure = code, message, failure


class GrpcFake:
    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.port = 0

    def _serve(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(list(handlers))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def __enter__(self) -> Any:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop(grace=None)

    def channel_factory(self) -> Callable[[], grpc.Channel]:
        return lambda: grpc.insecure_channel(f"127.0.0.1:{self.port}")

    def sent(self, kind: str) -> int:
        """How many requests of `kind` arrived."""
        return sum(1 for k, _ in self.requests if k == kind)

    def _trailing_metadata(self, abort: Abort) -> tuple[tuple[str, Any], ...] | None:
        """Metadata to send with an error answer (none by default)."""
        return None

    def _handler(self, kind: str, work: Callable[[Any], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            self.requests.append((kind, request))
            fault = self.faults.take(kind)
            try:
                if fault is not None and fault.kind == "unavailable":
                    raise Abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable")
                with self._lock:
                    response = work(request)
                if after_write(fault):
                    raise Abort(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer")
                return response
            except Abort as abort:
                metadata = self._trailing_metadata(abort)
                if metadata is not None:
                    context.set_trailing_metadata(metadata)
                context.abort(abort.code, abort.message)
                raise AssertionError("unreachable") from None
        return handle
