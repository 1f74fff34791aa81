"""HTTP: health, readiness, Prometheus metrics, the dashboard, and extra routes (Slack).

Bound to 127.0.0.1 by default; the config refuses another address without a token, and with a
token set the dashboard and metrics require `Authorization: Bearer <token>` (or `?token=`).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from agent import metrics
from agent.actions import as_utc
from agent.claims import stuck_actions
from agent.config import AgentConfig
from agent.models import Cycle


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


def _authorized(request: Request, config: AgentConfig) -> bool:
    token = config.service.dashboard_token
    if token is None:
        return True
    offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    offered = offered or request.query_params.get("token", "")
    return hmac.compare_digest(offered.encode(), token.get_secret_value().encode())


def _protected(config: AgentConfig, handler: Callable[[Request], Awaitable[Response]]
               ) -> Callable[[Request], Awaitable[Response]]:
    async def guarded(request: Request) -> Response:
        if not _authorized(request, config):
            return PlainTextResponse("unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    return guarded


def last_successful_cycle(engine: Engine) -> datetime | None:
    with engine.connect() as connection:
        finished = connection.execute(select(func.max(Cycle.finished_at)).where(Cycle.status.in_(("ok", "degraded")))).scalar()
    return as_utc(finished) if finished is not None else None


def readiness(engine: Engine, config: AgentConfig, status: ServiceStatus, now: datetime) -> tuple[bool, dict[str, Any]]:
    """Database reachable, scheduler running (on the leader), and a recent successful cycle."""
    checks: dict[str, Any] = {"role": "leader" if status.is_leader else "standby"}
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
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
              dashboard: Callable[[], str] | None = None, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        ready, checks = readiness(engine, config, status, datetime.now(UTC))
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    async def metrics_endpoint(_request: Request) -> Response:
        with engine.connect() as connection:
            metrics.STUCK_ACTIONS.set(len(stuck_actions(connection, datetime.now(UTC))))
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def dashboard_endpoint(_request: Request) -> Response:
        if dashboard is None:
            return PlainTextResponse("the dashboard is not available in this build", status_code=404)
        return HTMLResponse(dashboard())

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", _protected(config, metrics_endpoint)),
        Route("/", _protected(config, dashboard_endpoint)),
        Route("/dashboard", _protected(config, dashboard_endpoint)),
        *extra_routes,
    ]
    return Starlette(routes=routes)
