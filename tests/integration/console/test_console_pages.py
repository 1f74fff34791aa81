"""Every console page behind sign-in (no browser): redirect to /login, then the page, then decisions
only for those allowed, with a CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from agent.auth.users import add_user
from agent.bootstrap import connectors_factory
from agent.config import parse_config
from agent.console.routes import console_routes
from agent.runtime.server import ServiceStatus, build_app
from tests.fakes.postgres import throwaway_schema
from tests.integration.conftest import small_config
from tests.integration.console.world import ADMIN, PASSWORD, VIEWER, ConsoleWorld, console_world

PAGES = ["/", "/accounts/shop-meta", "/accounts/shop-meta/campaigns/shop-meta-c1", "/queue", "/audit", "/impact",
         "/pacing", "/audit?q=approved", "/outcomes", "/segments", "/segments?dimension=device"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    if request.param == "sqlite":
        yield from console_world(tmp_path_factory.mktemp("console"))
        return
    with throwaway_schema(request.getfixturevalue("postgres_url")) as url:
        yield from console_world(tmp_path_factory.mktemp("console-pg"), url)


def signed_in(world: ConsoleWorld, email: str) -> TestClient:
    client = TestClient(world.app, follow_redirects=False)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post("/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD,
                                         "next": "/"})
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(page: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return token.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_each_page_sends_a_stranger_to_login_and_shows_a_signed_in_user(world: ConsoleWorld, path: str) -> None:
    stranger = TestClient(world.app, follow_redirects=False)
    answer = stranger.get(path, headers={"Accept": "text/html"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
    page = signed_in(world, VIEWER).get(path)
    assert page.status_code == 200
    assert "vic@example.com (viewer)" in page.text


def test_a_stranger_cannot_decide(world: ConsoleWorld) -> None:
    pending = world.pending()[0]
    answer = TestClient(world.app).post("/queue/decide", data={"single": f"approve:{pending['id']}"})
    assert answer.status_code == 401
    assert any(a["id"] == pending["id"] for a in world.pending())


def test_pages_show_names_money_and_incomplete_days(world: ConsoleWorld) -> None:
    client = signed_in(world, ADMIN)
    overview = client.get("/").text
    assert "shop-meta" in overview and "shop-search" in overview
    assert "in EUR at the configured exchange rates" in overview  # USD converted with reporting.fx_rates
    assert "Baseline: the ROAS of the 28 days before the period shown" in overview
    account = client.get("/accounts/shop-meta?from=2026-11-15&to=2026-11-22").text
    assert "15 Nov 2026 – 22 Nov 2026 (8 days)" in account and "times and days in Europe/Berlin" in account
    assert "incomplete</span>" in account and "ROAS (estimated)" in account
    queue = client.get("/queue").text
    assert "add negative keywords “software meaning” (phrase match)" in queue
    assert "{&#39;text&#39;" not in queue and "{'text'" not in queue
    assert re.search(r"proposed 2026-11-23 13:00 CET", queue)  # the account's zone, to the minute
    budget = next(a for a in world.pending() if a["kind"] == "set_budget" and a["account_id"] == "shop-meta")
    before, after = budget["change"]["from"]["daily_budget"], budget["change"]["to"]["daily_budget"]
    verb = "Raise" if float(after) > float(before) else "Lower"
    assert f"{verb} the daily budget of the ad set “{budget['entity_name']}” from {before} EUR to {after} EUR" in queue
    filtered = client.get("/queue?account=shop-search&kind=add_negative_keywords").text
    assert filtered.count('<article class="card"') == 2


def test_a_viewer_is_refused_and_nothing_changes(world: ConsoleWorld) -> None:
    client = signed_in(world, VIEWER)
    page = client.get("/queue").text
    assert "Approve</button>" not in page
    pending = world.pending()[0]
    answer = client.post("/queue/decide", data={"csrf_token": csrf_of(page), "single": f"approve:{pending['id']}"})
    assert answer.status_code == 403
    assert any(a["id"] == pending["id"] for a in world.pending())


def test_unknown_pages_and_accounts_are_404_not_errors(world: ConsoleWorld) -> None:
    client = signed_in(world, ADMIN)
    assert client.get("/accounts/nope").status_code == 404
    assert client.get("/accounts/shop-meta/campaigns/nope").status_code == 404
    assert client.get("/?from=not-a-date&to=2026-13-45").status_code == 200


def test_an_approver_decides_only_where_the_configured_approvers_name_them(world: ConsoleWorld) -> None:
    """The same list email approvals use: approvals.accounts.<id>.email_approvers."""
    now = world.world.clock.now()
    add_user(world.engine, "ann@example.com", PASSWORD, "approver", [], now)
    email = {"from_address": "agent@agency.example", "reply_address": "approvals@agency.example",
             "smtp": {"host": "smtp.agency.example"}, "trusted_authserv_id": "mx.agency.example",
             "imap": {"host": "imap.agency.example", "username": "approvals", "password": "x"}}
    raw = small_config(str(world.engine.url), service=world.world.config.service.model_dump(mode="json"),
                       approvals={"email": email, "accounts": {"shop-meta": {"email_approvers": ["ann@example.com"]}}})
    secret = world.world.config.service.session_secret
    assert secret is not None
    raw["service"]["session_secret"] = secret.get_secret_value()  # model_dump masks secrets
    config = parse_config(raw, environ={})
    app = build_app(world.engine, config, ServiceStatus(), now=world.world.clock.now,
                    console_routes=console_routes(world.engine, config, world.world.clock,
                                                  connectors_factory(config, world.world.clock, world.engine)))
    client = signed_in(ConsoleWorld(world=world.world, app=app), "ann@example.com")
    page = client.get("/queue").text
    meta = next(a for a in world.pending() if a["account_id"] == "shop-meta")
    search = next(a for a in world.pending() if a["account_id"] == "shop-search")
    assert f'value="approve:{meta["id"]}"' in page and f'value="approve:{search["id"]}"' not in page
    refused = client.post("/queue/decide", data={"csrf_token": csrf_of(page), "single": f"reject:{search['id']}"})
    assert refused.status_code == 403
    decided = client.post("/queue/decide", data={"csrf_token": csrf_of(page), "single": f"reject:{meta['id']}",
                                                  f"reason-{meta['id']}": "not this week", "back": "/queue"})
    assert decided.status_code == 303 and decided.headers["location"] == "/queue"
    assert '<p class="message" role="status">1 proposal rejected</p>' in client.get("/queue").text
    assert 'class="message' not in client.get("/queue").text  # shown once
    states = {a["id"] for a in world.pending()}
    assert meta["id"] not in states and search["id"] in states
    audit = client.get("/audit?q=not+this+week").text
    assert "web:ann@example.com" in audit


def test_a_user_limited_to_one_account_sees_only_that_one(world: ConsoleWorld) -> None:
    add_user(world.engine, "lim@example.com", PASSWORD, "viewer", ["shop-meta"], world.world.clock.now())
    client = signed_in(world, "lim@example.com")
    overview = client.get("/").text
    assert "/accounts/shop-meta?" in overview and "shop-search" not in overview
    assert client.get("/accounts/shop-search").status_code == 404
    queue = client.get("/queue").text
    assert 'data-account="shop-meta"' in queue and 'data-account="shop-search"' not in queue


def test_pacing_names_the_status_and_says_which_accounts_have_no_budget(world: ConsoleWorld) -> None:
    page = signed_in(world, VIEWER).get("/pacing").text
    row = re.search(r"<tr><td class=\"text\">shop-meta</td>.*?</tr>", page, re.S)
    assert row is not None
    assert re.search(r'class="text status-(on_track|over|under)">(on track|over|under)<', row.group(0))
    assert "9,000.00 EUR" in row.group(0)
    assert "no monthly budget configured" in page  # shop-search
