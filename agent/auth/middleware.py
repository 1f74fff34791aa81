"""The ASGI layer in front of every route: size limits, then who is asking, then CSRF.

Secure by default: a path is open only if it is listed as public (health checks, the login page,
static files) or as signed (it checks its own request signature, like Slack's endpoint). Everything
else, including any route added later, needs a principal: a signed-in user (session cookie) or a
machine client (`Authorization: Bearer`). Credentials in the URL (`?token=`) are refused outright,
because URLs end up in proxy logs and browser history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.auth.limits import BODY_TIMEOUT_SECONDS, DEFAULT_BODY_LIMIT, LimitedReceive, declared_length
from agent.auth.roles import Principal
from agent.auth.sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Session, SessionSigner
from agent.auth.tokens import bearer_of, matching_token
from agent.auth.users import UserRecord
from agent.errors import BodyTimeout, BodyTooLarge

Access = Literal["public", "signed", "user"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
URL_CREDENTIALS = ("token", "access_token", "api_key", "apikey", "password")
LOGIN_BODY_LIMIT = 8 * 1024
INSECURE_PRINCIPAL = Principal(name="anonymous", kind="insecure", role="viewer")


@dataclass(frozen=True)
class AccessRules:
    """Which paths are open, which sign their own requests, and each one's body limit."""

    public: frozenset[str] = frozenset({"/healthz", "/readyz", "/login", "/favicon.ico"})
    public_prefixes: tuple[str, ...] = ("/static/",)
    signed: frozenset[str] = frozenset()
    body_limits: Mapping[str, int] = field(default_factory=lambda: {"/login": LOGIN_BODY_LIMIT,
                                                                    "/logout": LOGIN_BODY_LIMIT})
    default_body_limit: int = DEFAULT_BODY_LIMIT

    def access(self, path: str) -> Access:
        if path in self.public or path.startswith(self.public_prefixes):
            return "public"
        return "signed" if path in self.signed else "user"

    def body_limit(self, path: str) -> int:
        return self.body_limits.get(path, self.default_body_limit)

    def with_signed(self, limits: Mapping[str, int]) -> AccessRules:
        """These paths check their own signatures, each with its own body limit."""
        return AccessRules(public=self.public, public_prefixes=self.public_prefixes,
                           signed=self.signed | frozenset(limits), body_limits={**self.body_limits, **limits},
                           default_body_limit=self.default_body_limit)


class Authenticator:
    """Finds the principal of a request: a bearer token, or a session cookie naming a current user."""

    def __init__(self, tokens: Mapping[str, str], signer: SessionSigner | None,
                 find_user: Callable[[str], UserRecord | None], now: Callable[[], datetime],
                 insecure_no_auth: bool = False) -> None:
        self.tokens, self.signer, self.find_user, self.now = dict(tokens), signer, find_user, now
        self.insecure_no_auth = insecure_no_auth

    def identify(self, headers: Headers) -> tuple[Principal | None, Session | None]:
        offered = bearer_of(headers.get("authorization"))
        if offered is not None:
            name = matching_token(offered, self.tokens)
            return (Principal(name=name, kind="token", role="viewer") if name else None), None
        if self.signer is not None:
            session = self.signer.read(_cookie(headers, SESSION_COOKIE), self.now())
            if session is not None:
                user = self.find_user(session.email)
                if user is not None and user.session_nonce == session.nonce:
                    return user.principal(), session
        if self.insecure_no_auth:
            return INSECURE_PRINCIPAL, None
        return None, None


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def principal_of(request: Request) -> Principal | None:
    """The principal the middleware found for this request (None on public and signed paths)."""
    return getattr(request.state, "principal", None)


def csrf_token_of(request: Request) -> str:
    """The CSRF token a form of this request's session must carry ("" without a session)."""
    return str(getattr(request.state, "csrf_token", ""))


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class AuthMiddleware:
    """Pure ASGI, so it can bound the body before anything reads it."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, rules: AccessRules,
                 body_timeout: float = BODY_TIMEOUT_SECONDS) -> None:
        self.app, self.authenticator, self.rules, self.body_timeout = app, authenticator, rules, body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal, scope, receive = await self._admit(scope, receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except (BodyTooLarge, BodyTimeout) as error:
            if started:
                raise
            await _body_refusal(error)(scope, receive, send)

    async def _admit(self, scope: Scope, receive: Receive) -> tuple[Response | None, Scope, Receive]:
        path, method = scope["path"], scope["method"]
        headers = Headers(scope=scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if any(key.lower() in URL_CREDENTIALS for key in query):
            return PlainTextResponse("credentials are not accepted in the URL (it ends up in logs and history): "
                                     "send Authorization: Bearer <token>", status_code=400), scope, receive
        limit = self.rules.body_limit(path)
        length = declared_length(headers)
        if length is not None and length > limit:
            return _body_refusal(BodyTooLarge(limit)), scope, receive
        limited = LimitedReceive(receive, limit, self.body_timeout)
        access = self.rules.access(path)
        if access != "user":
            return None, scope, limited
        principal, session = await run_in_threadpool(self.authenticator.identify, headers)
        if principal is None:
            return _unauthenticated(method, headers, scope), scope, limited
        scope = {**scope, "state": {**scope.get("state", {}), "principal": principal}}
        signer = self.authenticator.signer
        if session is None or signer is None:  # bearer tokens are not sent by browsers on their own: no CSRF
            return None, scope, limited
        scope["state"]["csrf_token"] = signer.csrf_token(session)
        if method in SAFE_METHODS:
            return None, scope, limited
        offered = headers.get(CSRF_HEADER)
        replay: Receive = limited
        if offered is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            try:
                body = await _read_all(limited)
            except (BodyTooLarge, BodyTimeout) as error:
                return _body_refusal(error), scope, receive
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            offered = (form.get(CSRF_FIELD) or [""])[0]
            replay = _replay(body)
        if not signer.csrf_ok(session, offered):
            return PlainTextResponse("missing or wrong CSRF token: reload the page and try again",
                                     status_code=403), scope, replay
        return None, scope, replay


async def _read_all(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _body_refusal(error: Exception) -> Response:
    if isinstance(error, BodyTooLarge):
        return PlainTextResponse(f"request body too large (at most {error.limit} bytes)", status_code=413,
                                 headers={"Connection": "close"})
    return PlainTextResponse("request body not received in time", status_code=408, headers={"Connection": "close"})


def _unauthenticated(method: str, headers: Headers, scope: Scope) -> Response:
    if method in ("GET", "HEAD") and "text/html" in headers.get("accept", ""):
        target = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return PlainTextResponse("authentication required: sign in at /login, or send Authorization: Bearer <token>",
                             status_code=401, headers={"WWW-Authenticate": 'Bearer realm="paid-media-agent"'})


def authenticator_for(service: Any, find_user: Callable[[str], UserRecord | None],
                      now: Callable[[], datetime]) -> Authenticator:
    """From the `service:` settings: the named tokens (the deprecated `dashboard_token` as `dashboard`)."""
    tokens = {name: token.get_secret_value() for name, token in service.api_tokens.items()}
    if service.dashboard_token is not None:
        tokens.setdefault("dashboard", service.dashboard_token.get_secret_value())
    signer = (SessionSigner(service.session_secret.get_secret_value(), timedelta(hours=service.session_hours))
              if service.session_secret is not None else None)
    return Authenticator(tokens, signer, find_user, now, insecure_no_auth=service.insecure_no_auth)
