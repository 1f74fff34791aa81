"""The public Python surface, for embedding the agent in another program or scripting it.

Everything here is stable; everything else in `agent` may move between versions. Each function
does what the matching CLI command does, without printing or exiting:

    from datetime import date
    from pathlib import Path

    from agent import api

    config = api.load_config(Path("config.yaml"))          # ConfigError names every problem
    summary = api.run_one_cycle(config, date(2026, 3, 2), dry_run=True)
    print(summary.status, summary.metric_rows_upserted, dict(summary.actions_by_state))
    for action in api.pending_actions(config):
        print(action["id"], action["kind"], action["entity_name"], action["rationale"])

`run_one_cycle` is `paid-media-agent run --once [--today DAY] [--dry-run]`: it creates a new
database's schema on the spot, refuses an outdated one (`DatabaseOutOfDate`), and runs the
accounts in threads or on Celery workers as `execution.mode` says (Celery needs `config_path`).
Unlike the CLI it does not refuse a day before the last cycle's: a script replaying the past
re-pulls it, as `run --once --replay` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agent import bootstrap
from agent.clock import Clock, FixedClock, SystemClock
from agent.config import AgentConfig, load_config
from agent.cycle.summary import CycleSummary
from agent.errors import ConfigError
from agent.storage import db
from agent.storage.action_states import action_as_dict, list_actions
from agent.storage.store import make_engine
from connectors.base import Connector

__all__ = ["AgentConfig", "ConfigError", "Connector", "CycleSummary", "DatabaseOutOfDate", "build_connectors",
           "load_config", "pending_actions", "run_one_cycle"]


class DatabaseOutOfDate(Exception):
    """The database's schema is older than this version's: run `paid-media-agent db upgrade` first."""


def _clock(day: date | None) -> Clock:
    """The CLI's `--today DAY` clock, or the real one."""
    return SystemClock() if day is None else FixedClock.at_day(day)


@contextmanager
def _engine(config: AgentConfig) -> Iterator[Engine]:
    engine = make_engine(config.database_url.get_secret_value())
    try:
        yield engine
    finally:
        engine.dispose()


def _ensure_schema(engine: Engine) -> None:
    """A new database is created on the spot; an outdated one is the operator's to upgrade."""
    revision = db.current_revision(engine)
    if revision is None:
        db.upgrade(engine)
    elif revision != db.head_revision():
        raise DatabaseOutOfDate(f"the database schema is at {revision}, this version needs {db.head_revision()}: "
                                "run `paid-media-agent db upgrade` first")


def build_connectors(config: AgentConfig, day: date | None = None) -> dict[str, Connector]:
    """One connector per platform the config names, seeing `day` as today (default: the real date).

        connectors = api.build_connectors(config)
        for info in connectors["simulator"].accounts():
            print(info.account_id, info.currency)

    Each connector speaks the `connectors.base.Connector` protocol: `accounts()`, `entities(id)`,
    `daily_metrics(id, start, end)`, and the mutating calls the executor uses. The database's
    schema is created first if it is new (the simulator keeps its world there).
    """
    with _engine(config) as engine:
        _ensure_schema(engine)
    return bootstrap.build_connectors(config, _clock(day))


def run_one_cycle(config: AgentConfig, day: date | None = None, *, dry_run: bool | None = None,
                  config_path: Path | None = None) -> CycleSummary:
    """Pull, evaluate, gate, execute and notify once for every account; what the cycle did.

        summary = api.run_one_cycle(config, date(2026, 3, 2), dry_run=True)
        assert summary.status in ("ok", "degraded", "failed", "interrupted")

    `day`: the day the agent sees as today (default: the real date); `dry_run` overrides the
    config's `dry_run` (None keeps it). A failing account is in `summary.errors`, never raised.
    """
    clock = _clock(day)
    with _engine(config) as engine:
        _ensure_schema(engine)
        return bootstrap.run_configured_cycle(engine, config, clock, config_path=config_path, dry_run=dry_run)


def pending_actions(config: AgentConfig) -> list[dict[str, Any]]:
    """The actions waiting for a person's approval, oldest first, as plain dicts: what
    `paid-media-agent actions list --status pending_approval --json` shows (a dry-run cycle's
    actions too, with `dry_run` true: nobody is asked about those).

        for action in api.pending_actions(config):
            print(action["id"], action["account_id"], action["kind"], action["change"])
    """
    with _engine(config) as engine:
        _ensure_schema(engine)
        with engine.connect() as connection:
            return [action_as_dict(action) for action in list_actions(connection, "pending_approval")]
