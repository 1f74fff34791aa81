"""The outcomes and segments pages: the figures of `report outcomes` and `report segments`, per
platform and account, only over the accounts the signed-in person may see."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from agent.auth.users import add_user
from agent.outcomes.importing import import_file
from agent.outcomes.mappings import load_mapping
from agent.storage.models import EntityRecord
from connectors.simulator.click_ids import SimulatedClick, encode_click_id
from tests.integration.console.world import ADMIN, PASSWORD, ConsoleWorld, console_world

HEADER = "crm_id,stage,stage_at,amount,currency,gclid,fbclid,li_fat_id,utm_source,utm_content,email\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    """The console world with one CRM deal from a click on a shop-search ad set: lead, SQL,
    an opportunity of 1000 USD and 800 USD won (EUR at 0.92 per USD: 920.00 and 736.00 EUR)."""
    folder = Path(tmp_path_factory.mktemp("reports"))
    for base in console_world(folder):
        with base.engine.connect() as connection:
            row = connection.execute(select(EntityRecord.entity_id, EntityRecord.parent_id).where(
                EntityRecord.account_id == "shop-search", EntityRecord.level == "ad_set")).first()
        assert row is not None
        ad_set, campaign = str(row[0]), str(row[1])
        click = encode_click_id(SimulatedClick("shop-search", campaign, ad_set, date(2026, 11, 10), 1))
        lines = [f"d1,{stage},2026-11-{day}T10:00:00Z,{amount},USD,{click},,,,,"
                 for stage, day, amount in (("lead", 11, ""), ("sql", 12, ""), ("opportunity", 14, "1000"),
                                            ("won", 18, "800"))]
        path = folder / "crm.csv"
        path.write_text(HEADER + "\n".join(lines) + "\n")
        import_file(base.engine, base.world.config, path, "csv", load_mapping("plain"), base.world.clock.now())
        yield base


def signed_in(world: ConsoleWorld, email: str) -> TestClient:
    client = TestClient(world.app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    answer = client.post("/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD,
                                         "next": "/"})
    assert answer.status_code == 303, answer.text
    return client


def row_cells(page: str, table_id: str, label: str) -> list[str]:
    table = page[page.index(f'id="{table_id}"'):]
    table = table[:table.index("</table>")]
    row = next(r for r in table.split("<tr>") if label in r)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_outcomes_show_cpql_pipeline_won_and_roas_by_platform_and_account(world: ConsoleWorld) -> None:
    page = signed_in(world, ADMIN).get("/outcomes")
    assert page.status_code == 200 and 'href="/outcomes" class="current"' in page.text
    google = row_cells(page.text, "outcomes-platform", "google_ads")
    spend = float(google[1].split()[0])
    assert spend > 0
    assert google[2:4] == ["1", "1"]  # one lead, qualified (reached SQL)
    assert google[4] == f"{spend:.2f} EUR"  # CPQL: spend / one qualified lead
    assert google[6:8] == ["920.00 EUR", "736.00 EUR"]
    assert google[8:10] == [f"{920 / spend:.2f}", f"{736 / spend:.2f}"]
    account = row_cells(page.text, "outcomes-account", "shop-search")
    assert account[1:] == google[1:]
    meta = row_cells(page.text, "outcomes-platform", "meta")
    assert meta[2:4] == ["0", "0"] and meta[4] == "–"


def test_segments_list_each_segment_with_its_interval_and_filter_by_dimension(world: ConsoleWorld) -> None:
    client = signed_in(world, ADMIN)
    page = client.get("/segments").text
    assert 'href="/segments" class="current"' in page and "90% interval" in page
    assert "desktop" in page and "18-24" in page
    devices = client.get("/segments?dimension=device").text
    assert "desktop" in devices and "18-24" not in devices
    assert client.get("/segments?dimension=nonsense").status_code == 200


def test_a_user_limited_to_one_account_sees_only_its_figures(world: ConsoleWorld) -> None:
    add_user(world.engine, "lim@example.com", PASSWORD, "viewer", ["shop-meta"], world.world.clock.now())
    client = signed_in(world, "lim@example.com")
    outcomes = client.get("/outcomes").text
    assert "shop-search" not in outcomes and "google_ads" not in outcomes and "Unattributed" not in outcomes
    segments = client.get("/segments").text
    assert "shop-meta" in segments and "/accounts/shop-search" not in segments
