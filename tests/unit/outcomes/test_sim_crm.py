"""The simulator's CRM export: deterministic, cheap leads rarely qualify, stages only up to today."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from connectors.simulator.click_ids import decode_click_id
from connectors.simulator.crm import AdSetDay, ad_set_qualities, crm_export_rows

TODAY = date(2026, 11, 23)


def world() -> list[AdSetDay]:
    rows = []
    for offset in range(1, 61):
        day = TODAY - timedelta(days=offset)
        for ad_set, spend in (("cheap", "100"), ("mid", "300"), ("dear", "600")):
            rows.append(AdSetDay("b2b", "linkedin", "USD", "c1", ad_set, day, Decimal(spend), 10))
    return rows


def test_the_cheapest_leads_rarely_qualify() -> None:
    qualities = ad_set_qualities(world(), seed=3)
    assert qualities[("b2b", "cheap")] < 0.07
    assert min(qualities[("b2b", "mid")], qualities[("b2b", "dear")]) >= 0.25


def test_same_seed_same_export_and_stages_end_before_today() -> None:
    rows = crm_export_rows(world(), seed=3, today=TODAY)
    assert rows == crm_export_rows(world(), seed=3, today=TODAY)
    assert rows != crm_export_rows(world(), seed=4, today=TODAY)
    good = [r for r in rows if not r["crm_id"].startswith("SIM-BAD")]
    assert all(r["stage_at"] < TODAY.isoformat() for r in good)
    assert len({r["crm_id"] for r in good if r["stage"] == "lead"}) == 60 * 3 * 10
    assert {r["stage"] for r in good} == {"lead", "mql", "sql", "opportunity", "won", "lost"}
    sql_share = {ad_set: 0.0 for ad_set in ("cheap", "mid", "dear")}
    leads = {r["crm_id"]: decode_click_id(r["li_fat_id"]) for r in good if r["stage"] == "lead" and r["li_fat_id"]}
    for r in good:
        click = leads.get(r["crm_id"])
        if r["stage"] == "sql" and click is not None:
            sql_share[click.ad_set_id] += 1 / 600
    assert sql_share["cheap"] < 0.1 < 0.2 < min(sql_share["mid"], sql_share["dear"])
    assert len([r for r in rows if r["crm_id"].startswith("SIM-BAD")]) == 3
