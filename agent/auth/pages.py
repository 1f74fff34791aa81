"""`GET /login` (the form), `POST /login` (sets the session cookie), `POST /logout`.

Cookies: the session is HttpOnly (no script reads it), SameSite=Lax (a link from a Slack alert or an
email opens the console signed in; cross-site POSTs carry no cookie, and every state-changing form
needs its CSRF token anyway), Path=/, and Secure when the request came over https (behind a TLS proxy,
uvicorn takes the scheme from X-Forwarded-Proto of a trusted proxy, see docs/security.md).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from agent.auth.limits import read_body
from agent.auth.middleware import LOGIN_BODY_LIMIT, Authenticator, csrf_token_of
from agent.auth.sessions import CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE
from agent.auth.users import UserRecord

log = logging.getLogger(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · paid-media-agent</title>
<style>body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;box-sizing:border-box}}
button{{margin-top:1rem;padding:.5rem 1rem}}.error{{color:#b00020}}</style></head>
<body><h1>Sign in</h1>{message}{form}</body></html>"""

FORM = """<form method="post" action="/login">
<input type="hidden" name="{csrf_field}" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>"""


def safe_next(target: str | None) -> str:
    """Only a path on this site: no `//host`, no scheme, no backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 2000:
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def login_routes(authenticator: Authenticator, authenticate: Callable[[str, str], UserRecord | None],
                 session_seconds: int) -> list[BaseRoute]:
    """The sign-in and sign-out routes, using the authenticator's session signer."""

    def page(request: Request, message: str = "", status_code: int = 200, next_path: str = "/") -> Response:
        signer = authenticator.signer
        if signer is None:
            return HTMLResponse(PAGE.format(message='<p class="error">Sign-in is not configured: the operator must '
                                                    "set service.session_secret.</p>", form=""), status_code=503)
        token = signer.login_token()
        form = FORM.format(csrf_field=CSRF_FIELD, csrf=html.escape(token), next=html.escape(next_path))
        shown = f'<p class="error">{html.escape(message)}</p>' if message else ""
        response = HTMLResponse(PAGE.format(message=shown, form=form), status_code=status_code)
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict",
                            secure=_secure(request))
        return response

    async def login_form(request: Request) -> Response:
        return page(request, next_path=safe_next(request.query_params.get("next")))

    async def login(request: Request) -> Response:
        signer = authenticator.signer
        if signer is None:
            return page(request)
        body = await read_body(request, LOGIN_BODY_LIMIT)
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

        def field(name: str) -> str:
            return (form.get(name) or [""])[0]

        next_path = safe_next(field("next"))
        if not signer.login_token_ok(request.cookies.get(LOGIN_COOKIE), field(CSRF_FIELD)):
            return page(request, "The form expired or was not sent from this site: please sign in again.", 403,
                        next_path)
        user = await run_in_threadpool(authenticate, field("email"), field("password"))
        if user is None:
            log.warning("auth.login_failed")  # no email: personal data stays out of the logs
            return page(request, "Wrong email or password.", 401, next_path)
        cookie, _session = signer.issue(user.email, user.session_nonce, authenticator.now())
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(SESSION_COOKIE, cookie, max_age=session_seconds, path="/", httponly=True,
                            samesite="lax", secure=_secure(request))
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def logout(request: Request) -> Response:
        # The middleware has checked the session and its CSRF token before we get here.
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
        return response

    async def logout_form(request: Request) -> Response:
        form = (f'<form method="post" action="/logout"><input type="hidden" name="{CSRF_FIELD}" '
                f'value="{html.escape(csrf_token_of(request))}"><button type="submit">Sign out</button></form>')
        return HTMLResponse(PAGE.format(message="", form=form).replace("Sign in</h1>", "Sign out</h1>"))

    return [Route("/login", login_form, methods=["GET"]), Route("/login", login, methods=["POST"]),
            Route("/logout", logout_form, methods=["GET"]), Route("/logout", logout, methods=["POST"])]
