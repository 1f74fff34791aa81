"""Optional reads never fail a pull: with every enrichment read refused by the platforms (reach
estimates, audiences, search terms), each account still pulls its metrics, runs its policies and
executes its actions; the failures are counted and shown on the dashboard."""

from __future__ import annotations

from sqlalchemy import Engine

from agent.clock import FixedClock
from agent.cycle.run import run_cycle
from agent.prometheus import REGISTRY
from agent.reports.dashboard import render
from agent.reports.data import build_dashboard
from tests.integration.test_real_connectors_e2e import TODAY, Platforms, agent_config, connectors_for
from tests.integration.test_real_connectors_e2e import platforms as platforms  # noqa: F401  (fixture)


def _failures(platform: str, read: str) -> float:
    return REGISTRY.get_sample_value("pma_optional_read_failures_total", {"platform": platform, "read": read}) or 0.0


def test_every_optional_read_failing_still_pulls_metrics_and_runs_policies(engine: Engine, database_url: str,
                                                                           platforms: Platforms) -> None:
    # Refusals that are not retried (a missing permission): each read fails at once, every time.
    platforms.google.faults.inject("auth", "search:search_term_view", times=100)
    platforms.meta.faults.inject("auth", "get:customaudiences", times=100)
    platforms.meta.faults.inject("auth", "get:reachestimate", times=100)
    platforms.linkedin.faults.inject("auth", "get:adSegments", times=100)
    platforms.linkedin.faults.inject("auth", "get:audienceCounts", times=100)
    before = {key: _failures(*key) for key in (("google_ads", "search terms"), ("meta", "audiences"),
                                               ("meta", "reach estimates"), ("linkedin", "audiences"))}
    config = agent_config(database_url)
    clock = FixedClock.at_day(TODAY, hour=12)

    summary = run_cycle(engine, config, connectors_for(config, clock, platforms), clock)

    assert summary.accounts == 3 and summary.accounts_failed == 0, summary.errors
    assert summary.metric_rows_upserted > 0
    assert sum(summary.proposals_by_kind.values()) > 0 and summary.execution["executed"] > 0, summary.as_dict()
    assert {row["account_id"] for row in platforms.simulator.mutation_log()} == {"sim-search", "sim-social", "sim-b2b"}
    for key, count in before.items():
        assert _failures(*key) > count, key
    page = render(build_dashboard(engine, config, clock))
    for read in ("search terms unavailable", "audiences unavailable", "reach estimates unavailable"):
        assert read in page
