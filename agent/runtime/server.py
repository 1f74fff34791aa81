"""HTTP: health, readiness, Prometheus metrics, the dashboard, sign-in, and extra routes (Slack).

Every route but `/healthz`, `/readyz`, `/login` and the signed ones (Slack's) needs a signed-in user
or `Authorization: Bearer <token>`, whatever the bind address (agent/auth/, docs/security.md).
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from agent import prometheus as metrics
from agent.auth.middleware import AccessRules, AuthMiddleware, authenticator_for, principal_of
from agent.auth.pages import login_routes
from agent.auth.roles import Principal, can_view_all
from agent.auth.users import authenticate, get_user
from agent.config import AgentConfig
from agent.errors import PortUnavailable
from agent.storage import db
from agent.storage.action_states import as_utc
from agent.storage.claims import stuck_actions
from agent.storage.cycle_records import last_success_finished


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


@dataclass
class ServiceStatus:
    """What /readyz needs to know about the process (filled in by the service)."""

    is_leader: bool = False
    scheduler_running: bool = False
    # cleared while a new leader recovers (reconciliation, then the interrupted cycle at once)
    recovered: threading.Event = field(default_factory=_set_event)


def last_successful_cycle(engine: Engine) -> datetime | None:
    with engine.connect() as connection:
        finished = last_success_finished(connection)
    return as_utc(finished) if finished is not None else None


def readiness(engine: Engine, config: AgentConfig, status: ServiceStatus, now: datetime) -> tuple[bool, dict[str, Any]]:
    """Database reachable, scheduler running (on the leader), and a recent successful cycle."""
    checks: dict[str, Any] = {"role": "leader" if status.is_leader else "standby"}
    try:
        db.ping(engine)
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unreachable: {type(error).__name__}"
        return False, checks
    with engine.connect() as connection:
        checks["stuck_actions"] = len(stuck_actions(connection, now))  # shown, alerting is /metrics' job
    checks["scheduler"] = "running" if status.scheduler_running else ("standby" if not status.is_leader else "stopped")
    max_age = timedelta(minutes=config.service.ready_max_age_minutes or 3 * config.service.cycle_interval_minutes)
    last = last_successful_cycle(engine)
    checks["last_successful_cycle"] = last.isoformat() if last else None
    fresh = last is not None and now - last <= max_age
    checks["cycle_fresh"] = fresh
    checks["recovery"] = "done" if status.recovered.is_set() else "running"
    ready = fresh and (status.scheduler_running or not status.is_leader) and status.recovered.is_set()
    return ready, checks


def build_app(engine: Engine, config: AgentConfig, status: ServiceStatus,
              dashboard: Callable[[Principal], str] | None = None, extra_routes: Sequence[BaseRoute] = (),
              signed_paths: Mapping[str, int] | None = None,
              now: Callable[[], datetime] = lambda: datetime.now(UTC),
              console_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The app. `signed_paths` (path: body limit) check their own request signatures (Slack's).
    `console_routes` (agent/console/) come first: with them, `/` is the console's overview."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        ready, checks = readiness(engine, config, status, now())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        principal = principal_of(request)
        if principal is None or not can_view_all(principal):
            return PlainTextResponse("metrics cover every account: not for a user limited to some", status_code=403)
        with engine.connect() as connection:
            metrics.STUCK_ACTIONS.set(len(stuck_actions(connection, datetime.now(UTC))))
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def dashboard_endpoint(request: Request) -> Response:
        principal = principal_of(request)
        if dashboard is None or principal is None:
            return PlainTextResponse("the dashboard is not available in this build", status_code=404)
        return HTMLResponse(dashboard(principal))

    authenticator = authenticator_for(config.service, lambda email: get_user(engine, email), now)
    routes: list[BaseRoute] = [
        *console_routes,
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        Route("/", dashboard_endpoint),
        Route("/dashboard", dashboard_endpoint),
        *login_routes(authenticator, lambda email, password: authenticate(engine, email, password),
                      int(config.service.session_hours * 3600)),
        *extra_routes,
    ]
    rules = AccessRules().with_signed(signed_paths or {})
    return Starlette(routes=routes, middleware=[Middleware(AuthMiddleware, authenticator=authenticator, rules=rules)])


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, ready for the server to listen on; PortUnavailable if it cannot be."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as error:
        raise PortUnavailable(f"cannot listen on {host}:{port}: {error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        hint = " (is another process, or another serve, using it? set service.port)" if error.errno == errno.EADDRINUSE else ""
        raise PortUnavailable(f"cannot listen on {host}:{port}: {reason.lower()}{hint}") from None
    return sock
