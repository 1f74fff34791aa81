"""Every page of `serve` behind authentication: tokens in the header only, sign-in with CSRF, body limits.

The app is the real one (agent/runtime/server.py) on a real database; requests go through Starlette's test
client, or straight to the ASGI app where the test must see how much of a body was read.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router
from starlette.testclient import TestClient

from agent.auth.limits import read_body
from agent.auth.middleware import AccessRules, AuthMiddleware, authenticator_for
from agent.auth.sessions import SessionSigner
from agent.auth.tokens import new_secret
from agent.auth.users import add_user, remove_user
from agent.config import parse_config
from agent.runtime.server import ServiceStatus, build_app
from agent.storage import db, store
from tests.integration.conftest import TODAY, small_config

PROM_TOKEN = new_secret()
SESSION_SECRET = new_secret()
PASSWORD = "correct horse battery staple"
SLACK_PATH = "/slack/interactions"
TODAY_UTC = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """Authentication does not depend on the database; SQLite keeps these tests quick."""
    engine = store.make_engine(f"sqlite:///{tmp_path / 'auth.db'}")
    db.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def app_for(engine: Engine, **service: Any) -> Starlette:
    settings = {"api_tokens": {"prometheus": PROM_TOKEN}, "session_secret": SESSION_SECRET, **service}
    config = parse_config(small_config(str(engine.url), service=settings), environ={})

    async def slack_like(request: Request) -> Response:
        body = await read_body(request, 64 * 1024)
        return PlainTextResponse(f"read {len(body)}")

    return build_app(engine, config, ServiceStatus(), dashboard=lambda principal: f"dashboard for {principal.name}",
                     extra_routes=[Route(SLACK_PATH, slack_like, methods=["POST"])],
                     signed_paths={SLACK_PATH: 64 * 1024})


@pytest.fixture
def http(sqlite_engine: Engine) -> Iterator[TestClient]:
    with TestClient(app_for(sqlite_engine), follow_redirects=False) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/", "/dashboard", "/metrics", "/anything-added-later"])
def test_pages_on_loopback_need_authentication(http: TestClient, path: str) -> None:
    answer = http.get(path)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_health_checks_and_the_login_page_stay_open(http: TestClient) -> None:
    assert http.get("/healthz").status_code == 200
    assert http.get("/readyz").status_code == 503  # open, just not ready: no cycle has run
    assert http.get("/login").status_code == 200


def test_a_browser_is_sent_to_the_login_page(http: TestClient) -> None:
    answer = http.get("/dashboard?x=1", headers={"Accept": "text/html"})
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fdashboard%3Fx%3D1"


def test_a_bearer_token_opens_metrics_and_the_dashboard(http: TestClient) -> None:
    answer = http.get("/metrics", headers=bearer(PROM_TOKEN))
    assert answer.status_code == 200 and "pma_" in answer.text
    assert http.get("/dashboard", headers=bearer(PROM_TOKEN)).text == "dashboard for prometheus"
    for wrong in (PROM_TOKEN[:-1], new_secret(), ""):
        assert http.get("/metrics", headers=bearer(wrong)).status_code == 401
    assert http.get("/metrics", headers={"Authorization": f"Basic {PROM_TOKEN}"}).status_code == 401


@pytest.mark.parametrize("param", ["token", "access_token", "TOKEN"])
def test_a_token_in_the_url_is_refused(http: TestClient, param: str) -> None:
    answer = http.get(f"/metrics?{param}={PROM_TOKEN}")
    assert answer.status_code == 400 and "not accepted in the URL" in answer.text
    assert PROM_TOKEN not in answer.text
    assert http.get(f"/metrics?{param}={PROM_TOKEN}", headers=bearer(PROM_TOKEN)).status_code == 400


def test_the_deprecated_dashboard_token_still_works(sqlite_engine: Engine) -> None:
    token = new_secret()
    with TestClient(app_for(sqlite_engine, api_tokens={}, dashboard_token=token)) as client:
        assert client.get("/metrics", headers=bearer(token)).status_code == 200
        assert client.get("/metrics").status_code == 401


def test_insecure_no_auth_opens_pages_to_anyone(sqlite_engine: Engine) -> None:
    with TestClient(app_for(sqlite_engine, insecure_no_auth=True)) as client:
        assert client.get("/dashboard").text == "dashboard for anonymous"


def login_form(client: TestClient, next_path: str = "/") -> str:
    page = client.get(f"/login?next={next_path}")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


def test_sign_in_session_csrf_and_sign_out(sqlite_engine: Engine) -> None:
    add_user(sqlite_engine, "alice@example.com", PASSWORD, "viewer", [], TODAY_UTC)
    with TestClient(app_for(sqlite_engine), base_url="https://testserver", follow_redirects=False) as client:
        token = login_form(client, "/dashboard")
        no_csrf = client.post("/login", data={"email": "alice@example.com", "password": PASSWORD})
        assert no_csrf.status_code == 403 and "pma_session" not in client.cookies
        wrong = client.post("/login", data={"csrf_token": login_form(client), "email": "alice@example.com",
                                            "password": PASSWORD + "x"})
        assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
        token = login_form(client, "/dashboard")
        signed_in = client.post("/login", data={"csrf_token": token, "email": "Alice@Example.com",
                                                "password": PASSWORD, "next": "/dashboard"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/dashboard"
        cookie = next(v for k, v in signed_in.headers.multi_items()
                      if k == "set-cookie" and v.startswith("pma_session="))
        assert {"HttpOnly", "Secure", "SameSite=lax", "Path=/"} <= {part.strip() for part in cookie.split(";")}
        assert client.get("/dashboard").text == "dashboard for alice@example.com"

        assert client.post("/logout").status_code == 403  # a state-changing POST without its CSRF token
        assert client.post("/logout", data={"csrf_token": token}).status_code == 403  # the login form's is not it
        csrf = re.search(r'value="([^"]+)"', client.get("/logout").text)
        assert csrf is not None
        assert client.post("/logout", headers={"X-CSRF-Token": "nope"}).status_code == 403
        signed_out = client.post("/logout", data={"csrf_token": csrf.group(1)})
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
        assert client.get("/dashboard").status_code == 401


def test_a_removed_users_session_stops_working(sqlite_engine: Engine) -> None:
    add_user(sqlite_engine, "bob@example.com", PASSWORD, "admin", [], TODAY_UTC)
    with TestClient(app_for(sqlite_engine), follow_redirects=False) as client:
        client.post("/login", data={"csrf_token": login_form(client), "email": "bob@example.com",
                                    "password": PASSWORD})
        assert client.get("/dashboard").status_code == 200
        remove_user(sqlite_engine, "bob@example.com")
        assert client.get("/dashboard").status_code == 401


def test_the_next_page_after_sign_in_stays_on_this_site(sqlite_engine: Engine) -> None:
    add_user(sqlite_engine, "carol@example.com", PASSWORD, "viewer", ["shop-meta"], TODAY_UTC)
    with TestClient(app_for(sqlite_engine), follow_redirects=False) as client:
        answer = client.post("/login", data={"csrf_token": login_form(client), "email": "carol@example.com",
                                             "password": PASSWORD, "next": "//evil.example/"})
        assert answer.headers["location"] == "/"
        assert client.get("/metrics").status_code == 403  # limited to one account: no all-account metrics


def test_sign_in_without_a_session_secret_is_not_offered(sqlite_engine: Engine) -> None:
    with TestClient(app_for(sqlite_engine, session_secret=None)) as client:
        assert client.get("/login").status_code == 503
        assert "session_secret" in client.get("/login").text


# -- bodies ---------------------------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024


def asgi_post(app: Any, path: str, chunks: int, chunk_size: int, declared: int | None = None,
              headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, int]:
    """POST `chunks` chunks straight into the ASGI app; the status and the bytes the app pulled."""
    pulled = 0
    sent = 0
    status = 0
    extra = headers or []
    if declared is not None:
        extra = [*extra, (b"content-length", str(declared).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/x-www-form-urlencoded"), *extra],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}

    async def receive() -> dict[str, Any]:
        nonlocal pulled, sent
        if sent >= chunks:
            return {"type": "http.disconnect"}
        sent += 1
        pulled += chunk_size
        return {"type": "http.request", "body": b"a" * chunk_size, "more_body": sent < chunks}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    asyncio.run(app(scope, receive, send))
    return status, pulled


def session_cookie(engine: Engine) -> list[tuple[bytes, bytes]]:
    user = add_user(engine, "dave@example.com", PASSWORD, "viewer", [], TODAY_UTC)
    cookie, _ = SessionSigner(SESSION_SECRET, timedelta(hours=1)).issue(user.email, user.session_nonce,
                                                                       datetime.now(UTC))
    return [(b"cookie", f"pma_session={cookie}".encode())]


@pytest.mark.parametrize(("path", "limit", "signed_in"), [
    (SLACK_PATH, 64 * 1024, False),  # signed: checks its own signature, after the size
    ("/login", 8 * 1024, False),
    ("/logout", 8 * 1024, True),  # a signed-in form POST: the CSRF check reads the form, within the limit
])
def test_ten_megabytes_are_refused_without_being_read(sqlite_engine: Engine, path: str, limit: int,
                                                      signed_in: bool) -> None:
    app = app_for(sqlite_engine)
    auth = session_cookie(sqlite_engine) if signed_in else []
    status, pulled = asgi_post(app, path, chunks=TEN_MB // 16384, chunk_size=16384, declared=TEN_MB, headers=auth)
    assert (status, pulled) == (413, 0)  # the declared length is enough
    status, pulled = asgi_post(app, path, chunks=TEN_MB // 16384, chunk_size=16384, headers=auth)  # chunked
    assert status == 413
    assert pulled <= limit + 16384  # never more than one chunk past the limit: memory stays flat


def test_a_body_within_the_limit_is_read(sqlite_engine: Engine) -> None:
    assert asgi_post(app_for(sqlite_engine), SLACK_PATH, chunks=4, chunk_size=16384) == (200, 65536)


def test_a_stalled_body_gets_408(sqlite_engine: Engine) -> None:
    async def reads(request: Request) -> Response:
        return PlainTextResponse(str(len(await request.body())))

    config = parse_config(small_config(str(sqlite_engine.url), service={"api_tokens": {"p": PROM_TOKEN}}), environ={})
    authenticator = authenticator_for(config.service, lambda _email: None, lambda: TODAY_UTC)
    app = AuthMiddleware(Router(routes=[Route("/upload", reads, methods=["POST"])]), authenticator,
                         AccessRules(), body_timeout=0.05)
    never = asyncio.Event()
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {"type": "http", "method": "POST", "path": "/upload", "raw_path": b"/upload", "query_string": b"",
             "root_path": "", "scheme": "http", "http_version": "1.1", "server": ("testserver", 80),
             "headers": [(b"authorization", f"Bearer {PROM_TOKEN}".encode())]}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert statuses == [408]


