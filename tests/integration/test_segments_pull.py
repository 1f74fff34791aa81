"""Breakdowns in a real cycle: pulled through the real SDKs from the three fake platforms, stored in
`segment_metrics` summing to the ad sets' totals, reported by `report segments`; a breakdown the
platform refuses never fails the pull."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import yaml
from click.testing import CliRunner
from sqlalchemy import Engine, select

from agent.cli import main
from agent.clock import FixedClock
from agent.cycle.run import run_cycle
from agent.reports.dashboard import render_dashboard
from agent.storage.models import DailyMetric
from agent.storage.segment_store import segment_metrics
from tests.integration.conftest import make_world, small_config
from tests.integration.test_real_connectors_e2e import TODAY, Platforms, agent_config, connectors_for
from tests.integration.test_real_connectors_e2e import platforms as platforms  # noqa: F401  (fixture)

DIMENSIONS = {"google_ads": {"device", "age", "gender", "region"},
              "meta": {"age", "gender", "region", "placement", "device"},
              "linkedin": {"company_size", "industry", "seniority", "job_function"}}


Totals = dict[tuple[str, str, object], tuple[Decimal, float]]
Sums = dict[tuple[str, str, object, str], tuple[Decimal, float]]


def _stored(engine: Engine) -> tuple[Totals, Sums]:
    with engine.connect() as connection:
        totals = {(row.account_id, row.entity_id, row.day): (row.spend, row.conversions) for row in connection.execute(
            select(DailyMetric.account_id, DailyMetric.entity_id, DailyMetric.day, DailyMetric.spend,
                   DailyMetric.conversions).where(DailyMetric.level == "ad_set"))}
        sums: dict[tuple[str, str, object, str], tuple[Decimal, float]] = defaultdict(lambda: (Decimal(0), 0.0))
        for row in connection.execute(select(segment_metrics)):
            spend, conversions = sums[(row.account_id, row.entity_id, row.day, row.dimension)]
            sums[(row.account_id, row.entity_id, row.day, row.dimension)] = (spend + row.spend,
                                                                             conversions + row.conversions)
    return totals, dict(sums)


def test_a_cycle_stores_every_breakdown_summing_to_the_totals(engine: Engine, database_url: str,
                                                               platforms: Platforms) -> None:
    config = agent_config(database_url)
    clock = FixedClock.at_day(TODAY, hour=12)
    summary = run_cycle(engine, config, connectors_for(config, clock, platforms), clock, dry_run=True)
    assert summary.accounts_failed == 0, summary.errors
    totals, sums = _stored(engine)
    platform_of = {a.id: a.platform for a in config.accounts}
    dimensions_seen: dict[str, set[str]] = defaultdict(set)
    for (account, entity, day, dimension), (spend, conversions) in sums.items():
        dimensions_seen[platform_of[account]].add(dimension)
        assert spend == totals[(account, entity, day)][0], (account, dimension)
        assert abs(conversions - totals[(account, entity, day)][1]) < 1e-6, (account, dimension)
    assert dict(dimensions_seen) == DIMENSIONS
    # every ad set and day of the pulled window has each of its platform's dimensions
    for (account, entity, day) in totals:
        for dimension in DIMENSIONS[platform_of[account]]:
            assert (account, entity, day, dimension) in sums or totals[(account, entity, day)][0] == 0
    assert platforms.simulator.mutation_log() == [], "a dry run changes nothing"


def test_a_refused_breakdown_is_noted_and_the_pull_goes_on(engine: Engine, database_url: str,
                                                           platforms: Platforms) -> None:
    platforms.google.faults.inject("auth", "search:age_range_view", times=100)
    platforms.linkedin.faults.inject("auth", "get:adAnalytics:List(CAMPAIGN,MEMBER_SENIORITY)", times=100)
    config = agent_config(database_url)
    clock = FixedClock.at_day(TODAY, hour=12)
    summary = run_cycle(engine, config, connectors_for(config, clock, platforms), clock, dry_run=True)
    assert summary.accounts_failed == 0 and summary.metric_rows_upserted > 0, summary.errors
    _, sums = _stored(engine)
    stored = {(account, dimension) for account, _, _, dimension in sums}
    google = next(a.id for a in config.accounts if a.platform == "google_ads")
    linkedin = next(a.id for a in config.accounts if a.platform == "linkedin")
    assert (google, "age") not in stored and (google, "device") in stored
    assert (linkedin, "seniority") not in stored and (linkedin, "company_size") in stored


def test_report_segments_json_and_bad_input(tmp_path: Path, engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url)
    run_cycle(engine, world.config, world.connectors, world.clock, dry_run=True)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(small_config(database_url)))
    base = ["report", "segments", "--config", str(config_path), "--today", TODAY.isoformat()]
    result = CliRunner().invoke(main, [*base, "--format", "json", "--account", "shop-meta", "--dimension", "placement"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert rows and {r["account"] for r in rows} == {"shop-meta"} and {r["dimension"] for r in rows} == {"placement"}
    for row in rows:
        assert set(row) >= {"account", "campaign", "dimension", "segment", "spend", "conversions", "cpa", "roas",
                            "roas_low", "roas_high", "spend_share"}
        if row["roas"] is not None:
            assert row["roas_low"] <= row["roas_high"]
    by_campaign: dict[str, float] = defaultdict(float)
    for row in rows:
        by_campaign[row["campaign"]] += row["spend_share"]
    assert all(abs(share - 1) < 0.01 for share in by_campaign.values())
    # audience network placements convert worst in the simulated truth: flagged below target somewhere
    assert any(r["segment"] == "audience_network_classic" and r["below_target"] for r in rows)
    csv_out = CliRunner().invoke(main, [*base, "--format", "csv"])
    assert csv_out.exit_code == 0 and csv_out.output.splitlines()[0].startswith("account,campaign,")
    text = CliRunner().invoke(main, base)
    assert text.exit_code == 0 and "spend on segments below target" in text.output
    shown = CliRunner().invoke(main, [*base, "--format", "json", "--proposals"])
    assert shown.exit_code == 0, shown.output
    proposals = json.loads(shown.output)["proposals"]
    assert proposals and {p["kind"] for p in proposals} <= {"exclude_placement", "narrow_age_range", "exclude_region",
                                                            "set_device_bid_modifier", "exclude_age_range",
                                                            "exclude_gender", "exclude_location"}
    for proposal in proposals:
        evidence = proposal["evidence"]
        assert evidence["probability_below_target"] >= evidence["confidence"]
        assert evidence["spend_share"] <= evidence["max_delivery_share"]
    assert world.simulator.mutation_log() == [], "proposals are shown, never applied"
    page = render_dashboard(engine, world.config, world.clock)
    assert 'id="segments"' in page and "audience_network_classic" in page
    bad = CliRunner().invoke(main, [*base, "--dimension", "shoe-size"])
    assert bad.exit_code == 2 and "unknown dimension 'shoe-size'" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
