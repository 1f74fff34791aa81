"""The google-ads SDK client, its services, and what its errors mean.

One `GoogleAdsClient` per credential set; service clients are built once and shared, since a
gRPC channel is thread-safe. Tests (and benchmarks) pass a channel factory so the real client,
with its own interceptors, talks to an in-process gRPC server instead of googleads.googleapis.com.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any
from unittest import mock

import grpc
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException
from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure
from google.api_core import exceptions as core_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials

from connectors.retry import Classified

API_VERSION = "v26"
FAILURE_METADATA_KEY = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"
ChannelFactory = Callable[[], grpc.Channel]

# Patching a transport class's channel creation is process-wide, so services are built one at a time.
_BUILD_LOCK = threading.Lock()

_AUTH_CODES = {"authentication_error", "authorization_error", "operation_access_denied_error",
               "resource_access_denied_error"}
_TRANSIENT_CODES = {"internal_error", "quota_error", "database_error"}


def oauth_credentials(credentials: Mapping[str, str]) -> Credentials:
    """OAuth user credentials from the config; nothing is fetched until the first call."""
    if not credentials.get("refresh_token"):
        return AnonymousCredentials()
    from google.oauth2.credentials import Credentials as UserCredentials

    return UserCredentials(
        token=None,
        refresh_token=credentials["refresh_token"],
        client_id=credentials.get("client_id"),
        client_secret=credentials.get("client_secret"),
        token_uri="https://oauth2.googleapis.com/token",
    )


class GoogleAdsTransport:
    """A `GoogleAdsClient` for one credential set and the service clients built from it."""

    def __init__(self, credentials: Mapping[str, str], channel_factory: ChannelFactory | None = None) -> None:
        login = credentials.get("login_customer_id")
        self.client = GoogleAdsClient(
            credentials=oauth_credentials(credentials),
            developer_token=credentials.get("developer_token", ""),
            login_customer_id=login.replace("-", "") if login else None,
            use_proto_plus=True,
            version=API_VERSION,
        )
        self._channel_factory = channel_factory
        self._services: dict[str, Any] = {}
        self._lock = threading.Lock()

    def service(self, name: str) -> Any:
        """The SDK's client for `name` (e.g. "GoogleAdsService"), built on first use."""
        with self._lock:
            if name not in self._services:
                self._services[name] = self._build(name)
            return self._services[name]

    def _build(self, name: str) -> Any:
        if self._channel_factory is None:
            return self.client.get_service(name)
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
        module = import_module(f"google.ads.googleads.{API_VERSION}.services.services.{snake}")
        transport_class = getattr(module, f"{name}Client").get_transport_class()
        factory = self._channel_factory
        with _BUILD_LOCK, mock.patch.object(transport_class, "create_channel",
                                            side_effect=lambda *_a, **_k: factory()):
            return self.client.get_service(name)


def decode_failure(raw: bytes) -> Any:
    """A serialized `GoogleAdsFailure` (partial-failure detail or trailing metadata)."""
    return GoogleAdsFailure.deserialize(raw)


def error_code_name(error: Any) -> tuple[str, str]:
    """('quota_error', 'RESOURCE_EXHAUSTED') for a GoogleAdsError."""
    code = error.error_code
    which = type(code).pb(code).WhichOneof("error_code") or "unknown"
    value = getattr(code, which, None)
    return which, getattr(value, "name", str(value))


def describe_errors(errors: Any) -> str:
    return "; ".join(f"{'.'.join(error_code_name(e))}: {e.message}" for e in errors) or "unknown error"


def _failure_from_metadata(error: BaseException) -> Any | None:
    call = getattr(error, "response", None)
    trailing = getattr(call, "trailing_metadata", None)
    if not callable(trailing):
        return None
    try:
        for key, value in trailing() or ():
            if key == FAILURE_METADATA_KEY:
                return decode_failure(value)
    except Exception:  # a broken trailer must not hide the original error
        return None
    return None


def _retry_delay(failure: Any | None) -> float | None:
    """The largest `QuotaErrorDetails.retry_delay` in a failure, in seconds."""
    if failure is None:
        return None
    delays = []
    for error in failure.errors:
        delay = error.details.quota_error_details.retry_delay
        # proto-plus hands a Duration over as a timedelta; raw protobuf keeps seconds + nanos.
        total = getattr(delay, "total_seconds", None)
        seconds = total() if callable(total) else getattr(delay, "seconds", 0) + getattr(delay, "nanos", 0) / 1e9
        if seconds > 0:
            delays.append(seconds)
    return max(delays, default=None)


def classify(error: BaseException) -> Classified | None:
    """Retry quota, internal and unavailable errors; fail fast on auth and invalid requests."""
    if isinstance(error, GoogleAdsException):
        codes = {error_code_name(e)[0] for e in error.failure.errors}
        message = f"{describe_errors(error.failure.errors)} (request-id {error.request_id})"
        if codes & _AUTH_CODES:
            return Classified("auth", message)
        if codes and codes <= _TRANSIENT_CODES:
            return Classified("transient", message, _retry_delay(error.failure), rate_limited="quota_error" in codes)
        return Classified("invalid", message)
    if isinstance(error, core_exceptions.ResourceExhausted | core_exceptions.TooManyRequests):
        failure = _failure_from_metadata(error)
        detail = describe_errors(failure.errors) if failure is not None else str(error.message)
        return Classified("transient", f"quota exhausted: {detail}", _retry_delay(failure), rate_limited=True)
    if isinstance(error, core_exceptions.InternalServerError | core_exceptions.ServiceUnavailable
                  | core_exceptions.DeadlineExceeded | core_exceptions.BadGateway
                  | core_exceptions.GatewayTimeout | core_exceptions.Aborted):
        return Classified("transient", f"{type(error).__name__}: {error.message}")
    if isinstance(error, core_exceptions.Unauthenticated | core_exceptions.PermissionDenied):
        return Classified("auth", f"{type(error).__name__}: {error.message}")
    if isinstance(error, core_exceptions.GoogleAPICallError):
        return Classified("invalid", f"{type(error).__name__}: {error.message}")
    if isinstance(error, grpc.RpcError):
        code = error.code() if callable(getattr(error, "code", None)) else None
        transient = code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                             grpc.StatusCode.INTERNAL, grpc.StatusCode.RESOURCE_EXHAUSTED)
        return Classified("transient" if transient else "invalid", f"gRPC {code}")
    return None
