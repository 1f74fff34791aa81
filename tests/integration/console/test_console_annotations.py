"""Annotations added from the account page: stored as `annotate` stores them, listed, and only by
those who may decide for the account, with the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agent.auth.users import add_user
from agent.bootstrap import connectors_factory
from agent.config import parse_config
from agent.console.routes import console_routes
from agent.runtime.server import ServiceStatus, build_app
from agent.storage.annotation_store import list_annotations
from tests.integration.conftest import small_config
from tests.integration.console.world import PASSWORD, VIEWER, ConsoleWorld, console_world

APPROVER = "ann@example.com"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    """The console world, with ann@example.com an approver of shop-meta (the email approvers list)."""
    for base in console_world(Path(tmp_path_factory.mktemp("annotations"))):
        add_user(base.engine, APPROVER, PASSWORD, "approver", [], base.world.clock.now())
        email = {"from_address": "agent@agency.example", "reply_address": "approvals@agency.example",
                 "smtp": {"host": "smtp.agency.example"}, "trusted_authserv_id": "mx.agency.example",
                 "imap": {"host": "imap.agency.example", "username": "approvals", "password": "x"}}
        raw = small_config(str(base.engine.url), service=base.world.config.service.model_dump(mode="json"),
                           approvals={"email": email, "accounts": {"shop-meta": {"email_approvers": [APPROVER]}}})
        secret = base.world.config.service.session_secret
        assert secret is not None
        raw["service"]["session_secret"] = secret.get_secret_value()
        config = parse_config(raw, environ={})
        clock = base.world.clock
        app = build_app(base.engine, config, ServiceStatus(), now=clock.now,
                        console_routes=console_routes(base.engine, config, clock,
                                                      connectors_factory(config, clock, base.engine)))
        yield ConsoleWorld(world=base.world, app=app)


def signed_in(world: ConsoleWorld, email: str) -> TestClient:
    client = TestClient(world.app, follow_redirects=False)
    answer = client.post("/login", data={"csrf_token": csrf_of(client.get("/login").text), "email": email,
                                         "password": PASSWORD, "next": "/"})
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(page: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return token.group(1)


def notes(world: ConsoleWorld) -> list[dict[str, object]]:
    with world.engine.connect() as connection:
        return [dict(row) for row in list_annotations(connection, "shop-meta")]


def test_an_approver_adds_an_annotation_that_is_stored_and_listed(world: ConsoleWorld) -> None:
    client = signed_in(world, APPROVER)
    page = client.get("/accounts/shop-meta").text
    assert "Add annotation</button>" in page and "No annotation yet." in page
    answer = client.post("/accounts/shop-meta/annotations",
                         data={"csrf_token": csrf_of(page), "from": "2026-11-20", "to": "2026-11-22",
                               "note": "Black Friday promo"})
    assert answer.status_code == 303 and answer.headers["location"] == "/accounts/shop-meta"
    stored = [n for n in notes(world) if n["note"] == "Black Friday promo"]
    assert len(stored) == 1
    assert str(stored[0]["start_day"]) == "2026-11-20" and str(stored[0]["end_day"]) == "2026-11-22"
    assert stored[0]["created_by"] == f"web:{APPROVER}"
    listed = client.get("/accounts/shop-meta").text
    assert "annotation" in listed and "Black Friday promo" in listed and f"web:{APPROVER}" in listed
    assert "Black Friday promo" in client.get("/audit?q=Black+Friday").text


def test_a_bad_range_is_refused_and_nothing_is_stored(world: ConsoleWorld) -> None:
    client = signed_in(world, APPROVER)
    before = len(notes(world))
    answer = client.post("/accounts/shop-meta/annotations",
                         data={"csrf_token": csrf_of(client.get("/accounts/shop-meta").text), "from": "2026-11-22",
                               "to": "2026-11-20", "note": "backwards"})
    assert answer.status_code == 303
    assert "is before the first" in client.get("/accounts/shop-meta").text
    assert len(notes(world)) == before


def test_a_viewer_is_refused(world: ConsoleWorld) -> None:
    client = signed_in(world, VIEWER)
    page = client.get("/accounts/shop-meta").text
    assert "Add annotation</button>" not in page
    before = len(notes(world))
    answer = client.post("/accounts/shop-meta/annotations",
                         data={"csrf_token": csrf_of(page), "from": "2026-11-20", "note": "viewer's note"})
    assert answer.status_code == 403
    assert len(notes(world)) == before


def test_an_approver_of_another_account_is_refused(world: ConsoleWorld) -> None:
    client = signed_in(world, APPROVER)
    page = client.get("/accounts/shop-search").text
    assert "Add annotation</button>" not in page
    answer = client.post("/accounts/shop-search/annotations",
                         data={"csrf_token": csrf_of(page), "from": "2026-11-20", "note": "not mine"})
    assert answer.status_code == 403


def test_without_the_csrf_token_it_is_refused(world: ConsoleWorld) -> None:
    client = signed_in(world, APPROVER)
    before = len(notes(world))
    answer = client.post("/accounts/shop-meta/annotations", data={"from": "2026-11-20", "note": "forged"})
    assert answer.status_code == 403
    assert len(notes(world)) == before
