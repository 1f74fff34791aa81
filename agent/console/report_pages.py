"""The console's outcome and segment pages: the reports of `report outcomes` and `report segments`
(agent/outcomes/report.py, agent/reports/segments.py), computed there, only laid out here, over the
accounts the signed-in person may see."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.auth.roles import can_view_all
from agent.config import AgentConfig
from agent.console.context import Console, principal_in
from agent.outcomes.report import ReportError, outcome_report
from agent.reports.segments import DEFAULT_WINDOW_DAYS, account_curves, build_segment_report
from connectors.segments import DIMENSIONS


def _scoped(console: Console, request: Request) -> AgentConfig:
    visible = tuple(console.accounts_for(principal_in(request)))
    return console.config.model_copy(update={"accounts": visible})


def report_routes(console: Console) -> list[Route]:
    """`/outcomes` and `/segments`."""

    async def outcomes_page(request: Request) -> Response:
        config = _scoped(console, request)
        whole = can_view_all(principal_in(request))

        def load() -> dict[str, Any]:
            if not config.accounts:
                return {"by_platform": [], "by_account": [], "unattributed": None, "error": ""}
            try:
                with console.engine.connect() as connection:
                    platforms = outcome_report(connection, config, "platform")
                    accounts = outcome_report(connection, config, "account")
            except ReportError as error:
                return {"by_platform": [], "by_account": [], "unattributed": None, "error": str(error)}
            return {"by_platform": platforms["rows"], "by_account": accounts["rows"],
                    "unattributed": platforms["unattributed"] if whole else None, "error": ""}

        context = await run_in_threadpool(load)
        names = {a.id: a.name or a.id for a in config.accounts}
        return console.page(request, "outcomes.html.j2", "/outcomes", title="Outcomes", names=names,
                            currency=config.reporting.currency, qualified_stage=config.outcomes.qualified_stage,
                            **context)

    async def segments_page(request: Request) -> Response:
        config = _scoped(console, request)
        dimension = request.query_params.get("dimension", "")
        dimension = dimension if dimension in DIMENSIONS else ""
        today = console.clock.now().date()

        def load() -> Any:
            curves = account_curves(console.engine, config, today, console.clock)
            with console.engine.connect() as connection:
                return build_segment_report(connection, config, today, account_ids=[a.id for a in config.accounts],
                                            dimension=dimension or None, window_days=DEFAULT_WINDOW_DAYS,
                                            curves=curves)

        report = await run_in_threadpool(load) if config.accounts else None
        names = {a.id: a.name or a.id for a in config.accounts}
        return console.page(request, "segments.html.j2", "/segments", title="Segments", report=report, names=names,
                            dimension=dimension, dimensions=DIMENSIONS)

    return [Route("/outcomes", outcomes_page, methods=["GET"]),
            Route("/segments", segments_page, methods=["GET"])]
