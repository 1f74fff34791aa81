"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, each on a clean schema.

PostgreSQL comes from TEST_DATABASE_URL, else 127.0.0.1:5432 (database `test`); if no server
answers there, a throw-away server is started from the installed binaries. Only when neither is
possible does the run fail, with a message saying what is needed: never a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agent.storage import db, store
from tests.fakes.postgres import PostgresUnavailable, ThrowawayPostgres, server_answers, throwaway_schema

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server URL for the whole run (an existing one, or one we start)."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)
    if server_answers(url):
        yield url
        return
    try:
        server = ThrowawayPostgres.start()
    except PostgresUnavailable as error:
        pytest.fail(
            f"PostgreSQL is required by the test suite and none is available: {error}. "
            "Set TEST_DATABASE_URL to a reachable server or install PostgreSQL (apt-get install postgresql).",
            pytrace=False,
        )
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to a clean, empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'agent.db'}"
        return
    with throwaway_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a clean database migrated to head."""
    engine = store.make_engine(database_url)
    db.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def bare_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a clean database with no tables at all."""
    engine = store.make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


# `make test` stays well under 15 minutes on 2 cores; `make test-long` runs what it leaves out. Left
# out: the SQLite run of the slowest integration tests whose subject does not depend on the database
# (platform writes and their faults through the connectors, copy tests, audience sync, reach estimates,
# the dashboard in a browser, policy behaviour over weeks; their PostgreSQL run stays in `make test`), and
# the heaviest bench smoke runs. SQLite's own concerns (locking, crashes, recovery, database write
# faults, the CLI on the default database) stay in `make test`.
LONG_ON_SQLITE = frozenset({
    "tests/integration/test_copy_tests_real_connectors.py",
    "tests/integration/test_copy_tests.py",
    "tests/integration/test_copy_test_rotation.py",
    "tests/integration/test_segment_actions.py",
    "tests/integration/test_audience_sync.py",
    "tests/integration/test_late_conversions.py",
    "tests/integration/test_flip_flop.py",
    "tests/e2e/test_actions_settle.py",
    "tests/integration/test_prospecting_exclusions.py",
    "tests/integration/test_write_faults.py",
    "tests/integration/test_dashboard_browser.py",
    "tests/integration/test_real_connectors_e2e.py",
    "tests/integration/test_reach_requests.py",
    "tests/integration/test_copywriter_cycle.py",
    "tests/integration/test_platform_leads_and_pmax.py",
    "tests/integration/test_google_customer_type.py",
})
LONG = frozenset({
    "tests/unit/test_bench_smoke.py::test_fault_injection_bench_runs_and_prints_its_table",
    "tests/unit/test_bench_smoke.py::test_benchmark_runs_and_prints_its_figures[cycle]",
    "tests/integration/test_bench_cycle_workers.py::"
    "test_the_workers_bench_runs_and_prints_its_figures_with_no_limit_violation",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("::")[0]
        if item.nodeid in LONG or (path in LONG_ON_SQLITE and "[sqlite" in item.nodeid):
            item.add_marker(pytest.mark.long)
