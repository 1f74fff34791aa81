"""Helpers every CLI command shares: loading the config, the engine, the clock, the console."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import DBAPIError

from agent import logs
from agent.clock import Clock, FixedClock, SystemClock
from agent.config import DEFAULT_CONFIG_PATH, AgentConfig, load_config
from agent.cycle.concurrency import engine_pool_size
from agent.errors import ConfigError
from agent.storage import db, store
from agent.storage.action_states import as_utc
from agent.storage.cycle_records import last_cycle_started

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


replay_option = click.option(
    "--replay", is_flag=True,
    help="Allow a --today before the last cycle's day (re-runs the past: older data overwrites newer).",
)


def fail(message: str) -> None:
    """Exit 2 with one line naming the problem."""
    console_for(stderr=True).print(f"error: {message}", markup=False)
    raise SystemExit(EXIT_BAD_INPUT)


def refuse_going_back(engine: Engine, clock: Clock, replay: bool) -> None:
    """Exit 2 if the clock is on a day before the last cycle's, unless this is a deliberate replay:
    a cycle pulls its lookback window again and would overwrite newer, more complete metrics."""
    with engine.connect() as connection:
        last = last_cycle_started(connection)
    if last is None or replay:
        return
    last_day, today = as_utc(last).date(), clock.now().date()
    if today < last_day:
        fail(f"--today {today} is before the last cycle's day {last_day}: its older figures would overwrite "
             "newer metrics; add --replay if you mean to re-run the past")


def line_per_event() -> Callable[[str], None]:
    """Progress from the cycle's threads, one whole line per event: one write under a lock, so the
    lines of accounts running in parallel never run into each other (each names its account)."""
    lock = threading.Lock()

    def say(message: str) -> None:
        with lock:
            sys.stdout.write(message.rstrip("\n") + "\n")
            sys.stdout.flush()

    return say


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
        if len(error.problems) == 1:  # one problem, one line
            err.print(f"error: {error.source} is invalid: {error.problems[0]}", markup=False)
            raise SystemExit(EXIT_BAD_INPUT) from None
        err.print(f"error: {error.source} is invalid ({len(error.problems)} problems):", markup=False)
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
    engine = store.make_engine(config.database_url.get_secret_value(), pool_size=engine_pool_size(config))
    try:
        _reach_or_exit(engine)
        yield engine
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Session:
    """What a database command works with: the checked config, its clock and a ready engine."""

    config: AgentConfig
    clock: Clock
    engine: Engine


@contextmanager
def session_for(config_path: Path, today: Any = None, *, create: bool = True) -> Iterator[Session]:
    """Load the config, pick the clock (`--today`), reach the database and make sure its schema is
    current; exits 2 with one line if any of that fails. The engine is disposed of on the way out.
    `create=False` (commands that only read): no database yet is an error, and nothing is created."""
    config = load_or_exit(config_path)
    clock = clock_for(today)
    if not create:
        _refuse_missing_file(config)
    with engine_for(config) as engine:
        if not create and db.current_revision(engine) is None:
            fail(f"no database yet at {engine.url.render_as_string(hide_password=True)}: nothing has run here "
                 "(`paid-media-agent run --once` creates it)")
        ensure_schema(engine)
        yield Session(config, clock, engine)


def _refuse_missing_file(config: AgentConfig) -> None:
    """A SQLite file that does not exist would be created by merely connecting: refuse first."""
    url = make_url(config.database_url.get_secret_value())
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).exists():
        fail(f"no database yet at {url.database}: nothing has run here (`paid-media-agent run --once` creates it)")


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
