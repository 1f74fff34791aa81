"""What every console page shares: the database, configuration and clock, and the page frame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import Engine, RowMapping
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from agent.auth.middleware import csrf_token_of, principal_of
from agent.auth.roles import Principal, can_view
from agent.clock import Clock
from agent.config import AccountConfig, AgentConfig
from agent.console import queries
from agent.console.figures import AccountData, load_account
from agent.console.pages import Filters
from agent.console.views import render

FLASH_COOKIE = "pma_flash"


@dataclass
class Console:
    """What the pages read: the database, the configuration and the clock (the service's own)."""

    engine: Engine
    config: AgentConfig
    clock: Clock

    def accounts_for(self, principal: Principal) -> list[AccountConfig]:
        return [a for a in self.config.accounts if can_view(principal, a.id)]

    def load(self, accounts: Sequence[AccountConfig]) -> list[AccountData]:
        return [load_account(self.engine, account, self.clock) for account in accounts]

    def pending(self, principal: Principal, filters: Filters | None = None) -> list[RowMapping]:
        accounts = [a.id for a in self.accounts_for(principal)
                    if filters is None or not filters.account or a.id == filters.account]
        with self.engine.connect() as connection:
            return queries.actions_where(connection, states=("pending_approval",), accounts=accounts,
                                         kinds=(filters.kind,) if filters and filters.kind else ())

    def page(self, request: Request, template: str, section: str, **context: Any) -> HTMLResponse:
        principal = principal_in(request)
        flash = unquote(request.cookies.get(FLASH_COOKIE, ""))[:600]
        response = HTMLResponse(render(template, principal=principal, csrf=csrf_token_of(request), section=section,
                                       pending_count=len(self.pending(principal)),
                                       all_accounts=self.accounts_for(principal),
                                       message=flash[1:], message_error=flash[:1] == "!", **context))
        if flash:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response


def principal_in(request: Request) -> Principal:
    found = principal_of(request)
    assert found is not None, "the auth middleware admits no request without a principal here"
    return found


def back_to(path: str, message: str, error: bool = False) -> Response:
    """Back to the page the form was on, which shows `message` once. It travels in a short-lived
    cookie, not in the URL, so nobody can make the console display a text of their choosing."""
    response = RedirectResponse(path, status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(("!" if error else " ") + message[:500]), max_age=60, path="/",
                        httponly=True, samesite="strict")
    return response
