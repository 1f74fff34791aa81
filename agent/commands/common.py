"""Helpers every CLI command shares: loading the config, the engine, the clock, the console."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from agent import db, logs, store
from agent.clock import Clock, FixedClock, SystemClock
from agent.config import DEFAULT_CONFIG_PATH, AgentConfig, ConfigError, load_config

EXIT_BAD_INPUT = 2
LOG_LEVEL = [logging.WARNING]  # set by `--verbose` before any command runs
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG_PATH,
    show_default=True,
    help="YAML configuration file.",
)
today_option = click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Run as if today were this date (simulations, backtests). Default: the real date.",
)


def console_for(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:  # logs and pipes: wide enough that tables stay readable
        console.width = 160
    return console


def load_or_exit(config_path: Path) -> AgentConfig:
    """The validated config, or exit 2 naming every problem. Logging is set up with the config's
    secrets known, so nothing after this point can print them."""
    try:
        config = load_config(config_path)
    except ConfigError as error:
        err = console_for(stderr=True)
        err.print(f"[bold red]error:[/] {error.source} is invalid", markup=True)
        for problem in error.problems:
            err.print(f"  {problem}", markup=False)
        raise SystemExit(EXIT_BAD_INPUT) from None
    logs.configure(config, level=LOG_LEVEL[0])
    return config


def clock_for(today: Any) -> Clock:
    if today is None:
        return SystemClock()
    return FixedClock.at_day(today.date() if hasattr(today, "date") else today)


@contextmanager
def engine_for(config: AgentConfig) -> Iterator[Engine]:
    """The engine, once the database has answered; else exit 2 with one line saying where and why."""
    engine = store.make_engine(config.database_url.get_secret_value())
    try:
        _reach_or_exit(engine)
        yield engine
    finally:
        engine.dispose()


def ensure_schema(engine: Engine) -> None:
    """A brand-new database is created on the spot (zero setup); an outdated one must be upgraded
    on purpose, because migrating a production database is the operator's decision."""
    if db.current_revision(engine) is None:  # new (or being created by a process starting beside us)
        db.upgrade(engine)
        return
    if db.current_revision(engine) != db.head_revision():
        console_for(stderr=True).print(
            "error: the database schema is out of date; run `paid-media-agent db upgrade` first", markup=False
        )
        raise SystemExit(EXIT_BAD_INPUT)


def _reach_or_exit(engine: Engine) -> None:
    try:
        with engine.connect():
            pass
    except DBAPIError as error:
        console_for(stderr=True).print(
            f"error: cannot reach the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{unreachable_reason(error)}", markup=False)
        raise SystemExit(EXIT_BAD_INPUT) from None


def unreachable_reason(error: DBAPIError) -> str:
    """The driver's own words, short: 'Connection refused', 'unable to open database file', ..."""
    lines = [line.strip() for line in str(error.orig).splitlines() if line.strip()]
    first = lines[0] if lines else type(error.orig).__name__
    # psycopg nests "connection failed: connection to server at "h", port p failed: <reason>"
    return first.rsplit(" failed: ", 1)[-1]
