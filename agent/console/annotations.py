"""Annotations from the console: a person's note on an account's days, stored exactly as
`paid-media-agent annotate` stores it (agent/storage/annotation_store.py), so the anomaly detector
reads it as a known change. Approvers of the account and admins may add one; viewers may not."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from agent.auth.limits import read_body
from agent.auth.roles import Principal, can_approve
from agent.console.context import Console, back_to, principal_in
from agent.storage.annotation_store import add_annotation

MAX_NOTE = 500


def can_annotate(console: Console, principal: Principal, account_id: str) -> bool:
    """The same people who may decide the account's proposals."""
    return can_approve(principal, account_id, console.config.approvals)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def annotation_routes(console: Console) -> list[Route]:
    """`POST /accounts/{account_id}/annotations` with `from`, `to` (optional) and `note`."""

    async def annotate(request: Request) -> Response:
        principal = principal_in(request)
        account_id = str(request.path_params["account_id"])
        if account_id not in {a.id for a in console.accounts_for(principal)}:
            return PlainTextResponse(f"no account {account_id} that you may see", status_code=404)
        if not can_annotate(console, principal, account_id):
            return PlainTextResponse(f"your role ({principal.role}) may not annotate {account_id}", status_code=403)
        form = parse_qs((await read_body(request, 16 * 1024)).decode("utf-8", "replace"), keep_blank_values=True)

        def field(name: str) -> str:
            return (form.get(name) or [""])[0].strip()

        back = f"/accounts/{account_id}"
        first = _day(field("from"))
        last = _day(field("to")) if field("to") else first
        note = field("note")[:MAX_NOTE]
        if first is None or last is None:
            return back_to(back, "give the first day (and optionally the last) as YYYY-MM-DD", error=True)
        if last < first:
            return back_to(back, f"the last day {last} is before the first {first}", error=True)
        if not note:
            return back_to(back, "write a note (what happened on those days)", error=True)

        def store() -> int:
            with console.engine.begin() as connection:
                return add_annotation(connection, account_id, first, last, note, by=principal.label,
                                      now=console.clock.now())

        annotation_id = await run_in_threadpool(store)
        return back_to(back, f"annotation {annotation_id} added: {first}..{last}: {note}")

    return [Route("/accounts/{account_id}/annotations", annotate, methods=["POST"])]
