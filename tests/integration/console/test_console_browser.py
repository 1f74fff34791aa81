"""The console in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

Sign in, filter, drill down, sort; approve one proposal and bulk-approve a filtered set, run
execution, and see the simulated platform change; a viewer cannot approve; a POST without the CSRF
token is refused. Screenshots at desktop (1280) and phone (390) widths go to tests/artifacts/.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from agent.execution.executor import execute_approved
from tests.integration.console.world import ADMIN, PASSWORD, VIEWER, ConsoleWorld, console_world

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
DESKTOP, PHONE = 1280, 390


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    yield from console_world(tmp_path_factory.mktemp("console-browser"))


@pytest.fixture(scope="module")
def base_url(world: ConsoleWorld) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(world.app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which("chromium") is None:
        pytest.fail("the console's browser tests need Chromium: apt-get install chromium "
                    "(scripts/test-prerequisites.sh does it)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


ERRORS: list[str] = []  # script errors and failed loads in any page: there must be none


def sign_in(browser: Browser, base_url: str, email: str, width: int = DESKTOP, start: str = "/") -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("console", lambda message: ERRORS.append(f"{message.text} {message.location}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: ERRORS.append(str(error)))
    page.goto(base_url + start)
    expect(page).to_have_url(f"{base_url}/login?next=%2F" if start == "/" else page.url)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header .who")).to_contain_text(email)
    page.wait_for_load_state("load")  # the header shows before the stylesheet applies: layouts are measured after
    return page


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_sign_in_filter_drill_down_and_sort(browser: Browser, base_url: str, world: ConsoleWorld) -> None:
    page = sign_in(browser, base_url, ADMIN)
    accounts = page.locator("#accounts tbody tr")
    expect(accounts).to_have_count(2)
    screenshot(page, f"overview-{DESKTOP}")

    page.select_option("select[name=platform]", "meta")
    page.click("form.filters button[type=submit]")
    expect(accounts).to_have_count(1)
    expect(accounts.first).to_contain_text("shop-meta")
    assert "platform=meta" in page.url

    page.click("#accounts a:text('shop-meta')")
    expect(page.locator("h1")).to_have_text("Account shop-meta")
    campaigns = world.world.live("shop-meta")
    campaign = next(e for e in campaigns.values() if e.level == "campaign")
    rows = page.locator("#entities tbody tr")
    expect(rows).to_have_count(sum(1 for e in campaigns.values() if e.level == "campaign"))
    page.click(f"#entities a:text('{campaign.name}')")
    expect(page.locator("h1")).to_have_text(f"Campaign {campaign.name}")
    ad_sets = [e.name for e in campaigns.values() if e.level == "ad_set" and e.parent_id == campaign.entity_id]
    expect(rows).to_have_count(len(ad_sets))
    for name in ad_sets:
        expect(page.locator("#entities tbody")).to_contain_text(name)

    page.goto(f"{base_url}/accounts/shop-meta?status=active")
    spend_header = page.locator("#entities th", has_text="Spend")
    spend_header.click()
    spend_header.click()  # descending
    values = [float(v) for v in page.locator("#entities tbody td:nth-child(3)").evaluate_all(
        "cells => cells.map(c => c.dataset.value)")]
    assert values == sorted(values, reverse=True)
    expect(page.locator("#lag-notes")).to_contain_text("lag curve")

    phone = sign_in(browser, base_url, ADMIN, width=PHONE)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE + 1, f"the overview is {width}px wide on a {PHONE}px phone"
    screenshot(phone, f"overview-{PHONE}")
    phone.goto(f"{base_url}/queue")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE + 1
    screenshot(phone, f"queue-{PHONE}")
    phone.goto(f"{base_url}/accounts/shop-meta")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE + 1
    screenshot(phone, f"account-{PHONE}")
    page.goto(f"{base_url}/queue")
    screenshot(page, f"queue-{DESKTOP}")
    page.goto(f"{base_url}/accounts/shop-meta")
    screenshot(page, f"account-{DESKTOP}")
    assert ERRORS == [], ERRORS


def test_a_viewer_sees_the_queue_but_cannot_approve(browser: Browser, base_url: str, world: ConsoleWorld) -> None:
    page = sign_in(browser, base_url, VIEWER)
    page.goto(f"{base_url}/queue")
    expect(page.locator("article.card").first).to_be_visible()
    expect(page.locator("button", has_text="Approve")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("your role (viewer) cannot decide these")
    pending = world.pending()[0]
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(f"{base_url}/queue/decide",
                               form={"csrf_token": token or "", "single": f"approve:{pending['id']}"})
    assert answer.status == 403
    assert any(a["id"] == pending["id"] for a in world.pending())


def test_a_post_without_csrf_token_is_refused(browser: Browser, base_url: str, world: ConsoleWorld) -> None:
    page = sign_in(browser, base_url, ADMIN)
    pending = world.pending()[0]
    answer = page.request.post(f"{base_url}/queue/decide", form={"single": f"approve:{pending['id']}"})
    assert answer.status == 403
    assert "CSRF" in answer.text()
    assert any(a["id"] == pending["id"] for a in world.pending())


def test_approve_one_and_bulk_approve_a_filtered_set_change_the_world(
    browser: Browser, base_url: str, world: ConsoleWorld
) -> None:
    pause = next(a for a in world.pending() if a["kind"] == "pause")
    budgets = [a for a in world.pending() if a["kind"] == "set_budget" and a["account_id"] == "shop-meta"]
    assert budgets, "the seeded world proposes budget changes on shop-meta"
    page = sign_in(browser, base_url, ADMIN)
    page.goto(f"{base_url}/queue")
    card = page.locator(f"#action-{pause['id']}")
    expect(card).to_contain_text(f"Pause the ad set “{pause['entity_name']}”")
    card.locator("input[name^=reason]").fill("spends without converting")
    card.locator("button", has_text="Approve").click()
    expect(page.locator(".message")).to_contain_text("1 proposal approved; executing now")
    expect(page.locator(f"#action-{pause['id']}")).to_have_count(0)

    page.select_option("select[name=account]", "shop-meta")
    page.select_option("select[name=kind]", "set_budget")
    page.click("form.filters button[type=submit]")
    expect(page.locator("article.card")).to_have_count(len(budgets))
    page.check("#select-all")
    page.fill("input[name=bulk_reason]", "weekly budget review")
    page.click("button[name=bulk][value=approve]")
    expect(page.locator(".message")).to_contain_text(f"{len(budgets)} proposals approved; executing now")
    expect(page.locator("article.card")).to_have_count(0)

    # Approved actions execute right after the answer (as from Slack); then a cycle's execution step
    # finds nothing left: each change reaches the platform exactly once.
    simulator = world.world.simulator
    expected = {(pause["entity_id"], "pause")} | {(a["entity_id"], "set_budget") for a in budgets}
    deadline = time.monotonic() + 30
    while {(r["entity_id"], r["kind"]) for r in simulator.mutation_log()} < expected:
        assert time.monotonic() < deadline, f"not executed: {simulator.mutation_log()}"
        time.sleep(0.2)
    execute_approved(world.engine, world.world.connectors, world.world.config, world.world.clock)
    log = [(r["entity_id"], r["kind"]) for r in simulator.mutation_log()]
    assert sorted(log) == sorted(expected)
    live = world.world.live("shop-meta")
    assert live[pause["entity_id"]].status == "PAUSED"
    for action in budgets:
        assert live[action["entity_id"]].daily_budget == Decimal(action["change"]["to"]["daily_budget"])

    page.goto(f"{base_url}/audit?q=web%3Aada")
    expect(page.locator("#audit tbody tr", has_text="state:approved")).to_have_count(1 + len(budgets))
    expect(page.locator("#audit tbody")).to_contain_text("weekly budget review")
