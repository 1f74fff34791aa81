"""The engine keeps a connection for every account a cycle works on at once: with fewer, account
threads queue for a connection behind each other's short queries, and wait out `pool_timeout`
(30 s) and fail when the database is slow (bench/memory.py hit it at 48 accounts in flight)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.pool import QueuePool

from agent.config import parse_config
from agent.cycle.concurrency import ACCOUNT_WORKERS_PER_SLOT, accounts_in_flight, engine_pool_size
from agent.storage.store import POOL_OVERFLOW, make_engine


def _config(accounts: list[dict[str, Any]], **execution: Any) -> Any:
    return parse_config({"accounts": accounts, "execution": execution}, environ={})


def _accounts(platform: str, n: int) -> list[dict[str, Any]]:
    return [{"id": f"{platform}-{i}", "platform": "simulator", "simulate": platform, "currency": "EUR",
             "timezone": "Europe/Berlin"} for i in range(n)]


def test_accounts_in_flight_counts_each_platforms_workers_or_its_accounts_if_fewer() -> None:
    few = _config(_accounts("meta", 3))
    assert accounts_in_flight(few) == 3
    many = _config(_accounts("meta", 100), max_concurrency_per_platform={"default": 4})
    assert accounts_in_flight(many) == ACCOUNT_WORKERS_PER_SLOT * 4


def test_the_pool_holds_a_connection_per_account_in_flight(tmp_path: Path) -> None:
    config = _config(_accounts("meta", 100), max_concurrency_per_platform={"default": 6})
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=engine_pool_size(config), pool_timeout=2)
    try:
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.size() >= accounts_in_flight(config) == ACCOUNT_WORKERS_PER_SLOT * 6
        connections = [engine.connect() for _ in range(pool.size() + POOL_OVERFLOW)]  # none waits
        for connection in connections:
            connection.close()
    finally:
        engine.dispose()


def test_an_in_memory_database_takes_no_pool_size() -> None:
    engine = make_engine("sqlite://", pool_size=50)
    with engine.connect():
        pass
    engine.dispose()
