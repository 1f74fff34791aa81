"""`segments suggest` on a simulated portfolio with a CRM import: what a person sees and pastes."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import yaml
from click.testing import CliRunner
from sqlalchemy import Engine

from agent.cli import main
from agent.copywriter.settings import CopywriterSettings
from agent.cycle.run import run_cycle
from tests.integration.conftest import TODAY, make_world, small_config


def _crm_file(path: Path) -> Path:
    """120 customers of four kinds and 40 leads that never bought, as a CRM exports them."""
    rows = []

    def person(index: int, wins: list[tuple[int, int]], click: dict[str, str]) -> None:
        email = f"Customer{index}@Example.com"
        first = max(days for days, _ in wins) + 15
        rows.append({"crm_id": f"d{index}-lead", "stage": "lead", "stage_at": (TODAY - timedelta(days=first)).isoformat(),
                     "amount": "", "currency": "", "email": email, **click})
        for number, (days, amount) in enumerate(wins):
            rows.append({"crm_id": f"d{index}-{number}", "stage": "won",
                         "stage_at": (TODAY - timedelta(days=days)).isoformat(), "amount": str(amount),
                         "currency": "EUR", "email": email, **click})

    for i in range(20):
        person(i, [(5 + i, 900), (60, 1100), (120, 1000)], {"gclid": f"g{i}"})
    for i in range(20, 40):
        person(i, [(i - 18, 90 + i % 7)], {"fbclid": f"f{i}"})
    for i in range(40, 80):
        person(i, [(300 + i, 120 + i % 5)], {"fbclid": f"f{i}"})
    for i in range(80, 120):
        person(i, [(400 + i, 600), (500 + i, 700)], {"li_fat_id": f"l{i}"})
    columns = ["crm_id", "stage", "stage_at", "amount", "currency", "email", "gclid", "fbclid", "li_fat_id"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_segments_suggest_shows_few_segments_with_evidence_and_pasteable_config(
        tmp_path: Path, engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url)
    run_cycle(engine, world.config, world.connectors, world.clock, dry_run=True)  # pulls the breakdowns
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url)))
    imported = CliRunner().invoke(main, ["outcomes", "import", str(_crm_file(tmp_path / "crm.csv")),
                                         "--config", str(config_path)])
    assert imported.exit_code == 0, imported.output
    base = ["segments", "suggest", "--config", str(config_path), "--today", TODAY.isoformat()]

    result = CliRunner().invoke(main, [*base, "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert {a["account"] for a in body["accounts"]} == {a.id for a in world.config.accounts}
    suggestions = [s for a in body["accounts"] for s in a["suggestions"]]
    assert suggestions, "the simulator's segments differ (mobile, Audience Network, companies of 1)"
    for account in body["accounts"]:
        assert len(account["suggestions"]) <= 5
    for suggestion in suggestions:
        assert suggestion["roas_low"] <= suggestion["roas"] <= suggestion["roas_high"] or suggestion["conversions"] < 5
        assert 0.05 <= suggestion["spend_share"] <= 1 and suggestion["probability"] >= 0.95
        assert suggestion["treatment"] in ("exclude", "bid down", "own budget", "own copy")
        assert suggestion["summary"].startswith(f"{suggestion['dimension']} ")
        CopywriterSettings.model_validate(suggestion["config"]["copywriter"])  # pasteable as printed
    crm = body["crm"]
    assert crm["customers"] == 120 and crm["currency"] == "EUR"
    rfm = {s["name"]: s for s in crm["rfm"]}
    assert rfm["champions"]["customers"] == 20 and rfm["champions"]["treatment"] == "own budget"
    assert 3 <= len(crm["clusters"]) <= 5
    assert crm["clusters"][0]["name"].startswith("google_ads, high value")
    for group in crm["rfm"] + crm["clusters"]:
        CopywriterSettings.model_validate(group["config"]["copywriter"])
    assert "Customer1@Example.com".lower() not in result.output.lower()  # hashed at import, never shown

    text = CliRunner().invoke(main, [*base, "--account", "shop-meta"])
    assert text.exit_code == 0, text.output
    assert "Account shop-meta (meta)" in text.output and "Account shop-search" not in text.output
    assert "RFM (recency, frequency, value):" in text.output and "champions: 20 customers (17%)" in text.output
    assert "copywriter:\n" in text.output and "segments:" in text.output

    bad = CliRunner().invoke(main, [*base, "--account", "nope"])
    assert bad.exit_code == 2 and "unknown account 'nope'" in bad.output and "Traceback" not in bad.output
