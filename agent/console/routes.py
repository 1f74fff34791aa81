"""The console's routes: pages for anyone signed in, decisions for those `can_approve` allows.

Every route sits behind agent/auth/'s middleware (a session or a bearer token; CSRF on POST). A
decision goes through `decide_action`, the one code path of the CLI, Slack and email approvals,
with `web` as its channel and the signed-in email as the approver.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import Engine, RowMapping
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from agent.approvals.decisions import DecisionOutcome, decide_action
from agent.approvals.followup import ConnectorsFactory, execute_after_approval
from agent.auth.limits import read_body
from agent.auth.pages import safe_next
from agent.auth.roles import Principal, can_approve
from agent.clock import Clock
from agent.config import AgentConfig
from agent.console import queries
from agent.console.annotations import annotation_routes, can_annotate
from agent.console.changes import change_lines, evidence_lines, headline
from agent.console.charts import Series, line_chart
from agent.console.context import Console, back_to, principal_in
from agent.console.figures import AccountData, Period
from agent.console.formatting import local_time
from agent.console.pages import Filters, drill_down, overview, pacing_rows, platform_of
from agent.console.report_pages import report_routes
from agent.console.views import STATIC
from agent.experiments.copy_test_report import copy_test_section
from agent.experiments.report import impact_reports, report_json
from agent.storage.action_states import list_actions
from agent.storage.annotation_store import list_annotations

log = logging.getLogger(__name__)

EVIDENCE_DAYS = 14
MAX_BULK = 500


def _query(request: Request) -> dict[str, str]:
    return {key: value for key, value in request.query_params.items()}


def console_routes(engine: Engine, config: AgentConfig, clock: Clock,
                   connectors_factory: ConnectorsFactory) -> list[BaseRoute]:
    """The console's routes, for `build_app(console_routes=...)`; `/` is the overview. Approved
    actions execute right after the answer, as from Slack (`connectors_factory`: the platforms)."""
    console = Console(engine, config, clock)

    async def overview_page(request: Request) -> Response:
        filters = Filters.of(_query(request))
        principal = principal_in(request)
        datas = await run_in_threadpool(console.load, console.accounts_for(principal))
        context = overview(datas, config, filters, clock.now().date())
        return console.page(request, "overview.html.j2", "/", title="Overview",
                            platforms=sorted({platform_of(d) for d in datas}), **context)

    async def account_page(request: Request) -> Response:
        return await _drill(request, None)

    async def campaign_page(request: Request) -> Response:
        return await _drill(request, str(request.path_params["campaign_id"]))

    async def _drill(request: Request, campaign_id: str | None) -> Response:
        principal = principal_in(request)
        account_id = str(request.path_params["account_id"])
        account = next((a for a in console.accounts_for(principal) if a.id == account_id), None)
        if account is None:
            return PlainTextResponse(f"no account {account_id} that you may see", status_code=404)
        data = (await run_in_threadpool(console.load, [account]))[0]
        campaign = data.entities.get(campaign_id) if campaign_id else None
        if campaign_id and (campaign is None or campaign.level != "campaign"):
            return PlainTextResponse(f"no campaign {campaign_id} in account {account_id}", status_code=404)
        context = drill_down(data, campaign, Filters.of(_query(request)))
        here = f"/accounts/{account_id}" + (f"/campaigns/{campaign_id}" if campaign_id else "")
        if campaign_id is None:
            with engine.connect() as connection:
                context["annotations"] = list_annotations(connection, account_id)
            context["can_annotate"] = can_annotate(console, principal, account_id)
        return console.page(request, "entities.html.j2", "/", title=context["heading"], here=here, **context)

    def queue_items(principal: Principal, filters: Filters) -> list[dict[str, Any]]:
        actions = [a for a in console.pending(principal, filters)
                   if not filters.platform or platform_of_account(a["account_id"]) == filters.platform]
        accounts = {a.id: a for a in config.accounts}
        needed = sorted({str(a["account_id"]) for a in actions})
        datas = {d.account.id: d for d in console.load([accounts[i] for i in needed if i in accounts])}
        with engine.connect() as connection:
            names = queries.audience_names(connection, needed)
        items = []
        for action in actions:
            account = accounts.get(str(action["account_id"]))
            if account is None:
                continue
            data = datas[account.id]
            items.append({
                "id": action["id"], "account_id": account.id, "kind": action["kind"],
                "account_name": account.name or account.id, "platform": platform_of(data),
                "headline": headline(dict(action), account.currency),
                "change_lines": change_lines(str(action["kind"]), action["change"] or {}, account.currency, names),
                "rationale": action["rationale"], "facts": evidence_lines(action["evidence"] or {}),
                "created": local_time(action["created_at"], account.timezone),
                "expires": local_time(action["expires_at"], account.timezone),
                "chart": evidence_chart(data, str(action["entity_id"])),
                "can_decide": can_approve(principal, account.id, config.approvals),
            })
        return items

    def platform_of_account(account_id: str) -> str:
        account = next((a for a in config.accounts if a.id == account_id), None)
        return (account.simulate or account.platform) if account else ""

    async def queue_page(request: Request) -> Response:
        principal = principal_in(request)
        filters = Filters.of(_query(request))
        items = await run_in_threadpool(queue_items, principal, filters)
        return console.page(request, "queue.html.j2", "/queue", title="Approvals", items=items, filters=filters,
                            any_decidable=any(i["can_decide"] for i in items), back=f"/queue?{filters.query()}",
                            kinds=sorted({str(a["kind"]) for a in console.pending(principal)}),
                            platforms=sorted({platform_of_account(a.id) for a in console.accounts_for(principal)}))

    async def decide(request: Request) -> Response:
        principal = principal_in(request)
        form = parse_qs((await read_body(request, 256 * 1024)).decode("utf-8", "replace"), keep_blank_values=True)

        def field(name: str) -> str:
            return (form.get(name) or [""])[0].strip()

        back = safe_next(field("back") or "/queue")
        if field("single"):
            verdict, _, raw_id = field("single").partition(":")
            ids = [raw_id]
            reason = field(f"reason-{raw_id}")
        else:
            verdict, ids, reason = field("bulk"), form.get("ids", []), field("bulk_reason")
        if verdict not in ("approve", "reject") or not all(i.isdigit() for i in ids) or len(ids) > MAX_BULK:
            return PlainTextResponse("choose approve or reject and at least one proposal", status_code=400)
        if not ids:
            return back_to(back, "select at least one proposal first", error=True)
        outcome = await run_in_threadpool(decide_many, principal, [int(i) for i in ids], verdict, reason[:500])
        if outcome is None:
            return PlainTextResponse(f"your role ({principal.role}) may not approve or reject these proposals",
                                     status_code=403)
        text, approved = outcome
        response = back_to(back, text, error=text.startswith("nothing"))
        if approved:
            response.background = BackgroundTask(execute_now, approved)
        return response

    def execute_now(action_ids: list[int]) -> None:
        try:
            execute_after_approval(engine, config, clock, action_ids, connectors_factory, worker="web")
        except Exception:  # approved stays approved: the next cycle executes it
            log.exception("executing actions %s after a console approval failed", action_ids)

    def decide_many(principal: Principal, ids: list[int], verdict: str, reason: str) -> tuple[str, list[int]] | None:
        with engine.connect() as connection:
            actions = queries.actions_where(connection, states=("pending_approval", "approved"), ids=ids,
                                            accounts=[a.id for a in console.accounts_for(principal)])
        allowed = [a for a in actions if can_approve(principal, str(a["account_id"]), config.approvals)]
        if not allowed:
            return None
        done: list[DecisionOutcome] = []
        refused: list[DecisionOutcome] = []
        for action in allowed:
            result = decide_action(engine, int(action["id"]), "approve" if verdict == "approve" else "reject",
                                   approver=principal.name, channel="web", now=clock.now(), reason=reason)
            (done if result.ok else refused).append(result)
        past = "approved" if verdict == "approve" else "rejected"
        text = f"{len(done)} proposal{'s' if len(done) != 1 else ''} {past}" if done else f"nothing {past}"
        skipped = len(ids) - len(allowed)
        if refused:
            text += "; " + "; ".join(r.message for r in refused[:3])
        if skipped:
            text += f"; {skipped} not yours to decide"
        approved = [r.action_id for r in done if r.state == "approved"]
        if approved:
            text += "; executing now (drift check and guardrails first)"
        return text, approved

    async def audit_page(request: Request) -> Response:
        principal = principal_in(request)
        q = request.query_params.get("q", "").strip()[:100]
        account_filter = request.query_params.get("account", "")
        accounts = {a.id: a for a in console.accounts_for(principal)}
        scope = [account_filter] if account_filter in accounts else list(accounts)
        with engine.connect() as connection:
            events = queries.audit_events(connection, accounts=scope, text=q, include_global=not account_filter)
        rows = []
        for event in events:
            account = accounts.get(str(event["account_id"] or ""))
            rows.append({"time": local_time(event["at"], account.timezone if account else "UTC"),
                         "sort": event["id"], "event": event["event"], "actor": event["actor"],
                         "account": (account.name or account.id) if account else "", "message": event["message"]})
        return console.page(request, "audit.html.j2", "/audit", title="Audit log", events=rows, q=q,
                            account_filter=account_filter)

    async def pacing_page(request: Request) -> Response:
        datas = await run_in_threadpool(console.load, console.accounts_for(principal_in(request)))
        return console.page(request, "pacing.html.j2", "/pacing", title="Pacing", rows=pacing_rows(datas, config))

    async def impact_page(request: Request) -> Response:
        visible = {a.id for a in console.accounts_for(principal_in(request))}
        scoped = config.model_copy(update={"accounts": tuple(a for a in config.accounts if a.id in visible)})

        def load() -> tuple[list[dict[str, Any]], list[RowMapping], dict[str, Any] | None]:
            with engine.connect() as connection:
                return ([report_json(r) for r in impact_reports(connection, scoped, clock.now())],
                        list_actions(connection, "held_out", accounts=visible)[-100:][::-1],
                        copy_test_section(connection, visible))

        reports, held_out, copy_tests = await run_in_threadpool(load) if visible else ([], [], None)
        return console.page(request, "impact.html.j2", "/impact", title="Impact", reports=reports, held_out=held_out,
                            copy_tests=copy_tests)

    return [
        *annotation_routes(console),
        *report_routes(console),
        Route("/", overview_page, methods=["GET"]),
        Route("/accounts/{account_id}", account_page, methods=["GET"]),
        Route("/accounts/{account_id}/campaigns/{campaign_id}", campaign_page, methods=["GET"]),
        Route("/queue", queue_page, methods=["GET"]),
        Route("/queue/decide", decide, methods=["POST"]),
        Route("/audit", audit_page, methods=["GET"]),
        Route("/pacing", pacing_page, methods=["GET"]),
        Route("/impact", impact_page, methods=["GET"]),
        Route("/favicon.ico", no_icon, methods=["GET"]),
        Mount("/static/console", StaticFiles(directory=STATIC), name="console-static"),
    ]


async def no_icon(_request: Request) -> Response:
    """Browsers ask for it on every page (the sign-in page too): an empty answer, not a 404."""
    return Response(status_code=204)


def evidence_chart(data: AccountData, entity_id: str) -> str:
    """The entity's (or its ad sets') daily spend and ROAS over the last two weeks."""
    entity = data.entities.get(entity_id)
    if entity is None:
        return ""
    if entity.level == "ad_set":
        ad_sets = [entity]
    elif entity.level == "ad":
        ad_sets = [e for e in data.ad_sets() if e.entity_id == entity.parent_id]
    else:
        ad_sets = [e for e in data.ad_sets() if e.parent_id == entity.entity_id] if entity.level == "campaign" \
            else data.ad_sets()
    period = Period(data.yesterday - timedelta(days=EVIDENCE_DAYS - 1), data.yesterday)
    points = data.series(ad_sets, period)
    days = [p.day.isoformat() for p in points]
    roas = [float(p.value / p.spend) if p.spend else None for p in points]
    estimated = [float(p.estimated_value / p.spend) if p.spend else None for p in points]
    return line_chart(f"{entity.name}: daily ROAS, last {len(points)} days", days,
                      [Series("ROAS reported", roas), Series("ROAS estimated", estimated, dashed=True)],
                      "ROAS", [p.incomplete for p in points], value_format="{:.2f}")

