"""Google new vs returning customers (docs/segments.md): where the account has a customer lifecycle goal,
`segments.new_versus_returning_customers` is pulled through the real SDK from the gRPC fake as the
breakdown dimension `customer_type` (new, returning, unknown), its conversions summing to the ad groups'
totals, and shown by `report segments --dimension customer_type`. Without a goal nothing is asked."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine, select

from agent.cli import main
from agent.clock import FixedClock
from agent.cycle.run import run_cycle
from agent.storage.models import DailyMetric
from agent.storage.segment_store import segment_metrics
from tests.integration.test_real_connectors_e2e import TODAY, Platforms, agent_config, connectors_for
from tests.integration.test_real_connectors_e2e import platforms as platforms  # noqa: F401  (fixture)

CUSTOMER = "1234567890"


def _pull(engine: Engine, database_url: str, platforms: Platforms) -> None:
    config = agent_config(database_url)
    clock = FixedClock.at_day(TODAY, hour=12)
    summary = run_cycle(engine, config, connectors_for(config, clock, platforms), clock, dry_run=True)
    assert summary.accounts_failed == 0, summary.errors


def _customer_type_rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(
            select(segment_metrics).where(segment_metrics.c.dimension == "customer_type")).mappings()]


def test_lifecycle_goal_accounts_get_new_and_returning_conversions_summing_to_the_totals(
        engine: Engine, database_url: str, platforms: Platforms, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    platforms.google.lifecycle_goals[CUSTOMER] = ("NEW_CUSTOMER_ACQUISITION",)
    _pull(engine, database_url, platforms)
    rows = _customer_type_rows(engine)
    assert rows and {r["account_id"] for r in rows} == {"acme-search"}  # Google only
    assert {r["segment"] for r in rows} == {"new", "returning", "unknown"}
    queries = [q for kind, q in platforms.google.requests if "new_versus_returning_customers" in q]
    assert len(queries) == 1 and "cost_micros" not in queries[0]  # one report; conversions only
    with engine.connect() as connection:
        totals = {(r.entity_id, r.day): (r.spend, r.conversions) for r in connection.execute(
            select(DailyMetric.entity_id, DailyMetric.day, DailyMetric.spend, DailyMetric.conversions).where(
                DailyMetric.account_id == "acme-search", DailyMetric.level == "ad_set"))}
    sums: dict[tuple[object, object], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        sums[(row["entity_id"], row["day"])][0] += float(str(row["spend"]))
        sums[(row["entity_id"], row["day"])][1] += float(str(row["conversions"]))
        if row["segment"] != "unknown":
            assert float(str(row["spend"])) == 0.0  # Google does not split cost by customer type
    for key, (spend, conversions) in sums.items():
        assert abs(spend - float(totals[key][0])) < 0.01 and abs(conversions - totals[key][1]) < 1e-6, key
    # returning customers convert more readily in the simulated truth: the split is not a flat copy
    new = sum(float(str(r["conversions"])) for r in rows if r["segment"] == "new")
    returning = sum(float(str(r["conversions"])) for r in rows if r["segment"] == "returning")
    assert new > 0 and returning > 0

    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({"database_url": database_url, "accounts": [
        {"id": "acme-search", "platform": "google_ads", "currency": "USD", "timezone": "America/New_York",
         "credentials": {"developer_token": "${GADS_DEV_TOKEN}", "customer_id": "123-456-7890"}}]}))
    monkeypatch.setenv("GADS_DEV_TOKEN", "dev-token")
    result = CliRunner().invoke(main, ["report", "segments", "--config", str(config_path), "--today",
                                       TODAY.isoformat(), "--dimension", "customer_type", "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["rows"]
    assert shown and {r["dimension"] for r in shown} == {"customer_type"}
    assert {r["segment"] for r in shown} >= {"new", "returning"}
    text = CliRunner().invoke(main, ["report", "segments", "--config", str(config_path), "--today",
                                     TODAY.isoformat(), "--dimension", "customer_type"])
    assert text.exit_code == 0 and "returning" in text.output, text.output
    returning_line = next(line for line in text.output.splitlines() if line.strip().startswith("returning"))
    assert returning_line.rstrip().endswith("–")  # no ROAS interval without spend per customer type


def test_without_a_lifecycle_goal_no_customer_type_is_asked_or_stored(engine: Engine, database_url: str,
                                                                      platforms: Platforms) -> None:
    _pull(engine, database_url, platforms)
    assert _customer_type_rows(engine) == []
    assert platforms.google.traffic.counts["search:goal"] == 1
    assert not [q for _, q in platforms.google.requests if "new_versus_returning_customers" in q]
