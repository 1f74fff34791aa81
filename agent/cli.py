"""`paid-media-agent ...`: the command line.

Exit codes: 0 success, 1 a run that failed, 2 bad input (config, arguments) with a message that
names the problem. Nothing is written to the database before the config has validated.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, inspect

from agent import db, store
from agent.actions import STATES, action_as_dict, list_actions
from agent.clock import Clock, FixedClock, SystemClock
from agent.config import DEFAULT_CONFIG_PATH, AgentConfig, ConfigError, load_config
from agent.cycle import CycleSummary, build_connectors, run_cycle
from agent.gate import permission_matrix
from connectors.base import ConnectorError

EXIT_BAD_INPUT = 2
config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=DEFAULT_CONFIG_PATH, show_default=True,
    help="YAML configuration file.",
)
today_option = click.option(
    "--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
    help="Run as if today were this date (simulations, backtests). Default: the real date.",
)


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _load(config_path: Path) -> AgentConfig:
    try:
        return load_config(config_path)
    except ConfigError as error:
        err = _console(stderr=True)
        err.print(f"[bold red]error:[/] {error.source} is invalid", markup=True)
        for problem in error.problems:
            err.print(f"  {problem}", markup=False)
        raise SystemExit(EXIT_BAD_INPUT) from None


def _clock(today: Any) -> Clock:
    if today is None:
        return SystemClock()
    return FixedClock.at_day(today.date() if hasattr(today, "date") else today)


@contextmanager
def _engine(config: AgentConfig) -> Iterator[Engine]:
    engine = store.make_engine(config.database_url.get_secret_value())
    try:
        yield engine
    finally:
        engine.dispose()


def _ensure_schema(engine: Engine) -> None:
    """A brand-new database is created on the spot (zero setup); an outdated one must be upgraded
    on purpose, because migrating a production database is the operator's decision."""
    if not inspect(engine).get_table_names():
        db.upgrade(engine)
        return
    if db.current_revision(engine) != db.head_revision():
        _console(stderr=True).print(
            "error: the database schema is out of date; run `paid-media-agent db upgrade` first", markup=False
        )
        raise SystemExit(EXIT_BAD_INPUT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """Self-hosted autonomous paid-media agent."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.option("--once", is_flag=True, help="Run one full cycle and exit.")
@click.option("--dry-run", is_flag=True, default=None, help="Compute and record everything, change nothing.")
@config_option
@today_option
def run(once: bool, dry_run: bool | None, config_path: Path, today: Any) -> None:
    """Pull metrics, evaluate policies and gate the resulting actions."""
    if not once:
        raise click.UsageError("use `run --once` for a single cycle (the long-running service is `serve`)")
    config = _load(config_path)
    clock = _clock(today)
    console = _console()
    with _engine(config) as engine:
        _ensure_schema(engine)
        try:
            connectors = build_connectors(config, clock, engine)
        except ConnectorError as error:
            _console(stderr=True).print(f"error: {error}", markup=False)
            raise SystemExit(EXIT_BAD_INPUT) from None
        if console.is_terminal:
            with console.status("running cycle...") as status:
                summary = run_cycle(engine, config, connectors, clock, dry_run=dry_run or None,
                                    progress=lambda message: status.update(message))
        else:
            summary = run_cycle(engine, config, connectors, clock, dry_run=dry_run or None,
                                progress=lambda message: print(message, flush=True))
    _print_summary(console, summary, config)
    if summary.accounts_failed == summary.accounts:
        raise SystemExit(1)


def _print_summary(console: Console, summary: CycleSummary, config: AgentConfig) -> None:
    mode = "DRY-RUN (nothing was changed)" if summary.dry_run else "live"
    console.print(f"cycle {summary.cycle_id} finished ({mode})", markup=False)
    console.print(f"  accounts:             {summary.accounts} ({summary.accounts_failed} failed)", markup=False)
    console.print(f"  ad sets:              {summary.ad_sets}", markup=False)
    console.print(f"  metric rows upserted: {summary.metric_rows_upserted}", markup=False)
    console.print(f"  search-term rows:     {summary.search_term_rows_upserted}", markup=False)
    proposals = ", ".join(f"{k}={v}" for k, v in sorted(summary.proposals_by_kind.items())) or "none"
    actions = ", ".join(f"{k}={v}" for k, v in sorted(summary.actions_by_state.items())) or "none"
    console.print(f"  proposals by kind:    {proposals}", markup=False)
    console.print(f"  actions by state:     {actions}", markup=False)
    for error in summary.errors:
        console.print(f"  error: {error}", markup=False)


@main.group("config")
def config_group() -> None:
    """Configuration commands."""


@config_group.command("check")
@config_option
def config_check(config_path: Path) -> None:
    """Validate the configuration and show the effective permission matrix."""
    config = _load(config_path)
    console = _console()
    console.print(f"{config_path}: OK ({len(config.accounts)} accounts)", markup=False)
    table = Table(title="effective permissions (account x action kind)")
    matrix = permission_matrix(config)
    kinds = list(next(iter(matrix.values())))
    table.add_column("account")
    for kind in kinds:
        table.add_column(kind)
    for account_id, levels in matrix.items():
        table.add_row(account_id, *(levels[k] for k in kinds))
    console.print(table)


@main.group("db")
def db_group() -> None:
    """Database commands."""


@db_group.command("upgrade")
@config_option
def db_upgrade(config_path: Path) -> None:
    """Apply Alembic migrations up to the newest revision."""
    config = _load(config_path)
    with _engine(config) as engine:
        db.upgrade(engine)
        revision = db.current_revision(engine)
    _console().print(f"database at revision {revision}", markup=False)


@main.group("sim")
def sim_group() -> None:
    """The built-in simulated ad platform."""


@sim_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
@today_option
def sim_show(as_json: bool, config_path: Path, today: Any) -> None:
    """The simulated world's entities as the platform sees them now (status, budgets)."""
    config = _load(config_path)
    clock = _clock(today)
    with _engine(config) as engine:
        _ensure_schema(engine)
        connectors = build_connectors(config, clock, engine)
        simulated = [a for a in config.accounts if a.platform == "simulator"]
        entities = [e for a in simulated for e in connectors["simulator"].entities(a.id)]
    if as_json:
        rows = [
            {
                "account_id": e.account_id, "entity_id": e.entity_id, "level": e.level, "name": e.name,
                "status": e.status, "daily_budget": None if e.daily_budget is None else str(e.daily_budget),
                "currency": e.currency, "learning": e.learning,
            }
            for e in entities
            if e.level != "keyword"
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="simulated world")
    for column in ("account", "entity", "level", "status", "daily budget", "learning", "name"):
        table.add_column(column)
    for e in entities:
        if e.level == "keyword":
            continue
        budget = "" if e.daily_budget is None else f"{e.daily_budget:.2f} {e.currency}"
        table.add_row(e.account_id, e.entity_id, e.level, e.status, budget, "yes" if e.learning else "", e.name)
    _console().print(table)


@main.group("actions")
def actions_group() -> None:
    """The action queue."""


@actions_group.command("list")
@click.option("--status", type=click.Choice(STATES), default=None, help="Only actions in this state.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
def actions_list(status: str | None, as_json: bool, config_path: Path) -> None:
    """Proposed, queued and finished actions."""
    config = _load(config_path)
    with _engine(config) as engine:
        _ensure_schema(engine)
        with engine.connect() as connection:
            actions = list_actions(connection, status)
    if as_json:
        click.echo(json.dumps([action_as_dict(a) for a in actions], indent=2, default=str))
        return
    table = Table(title=f"actions ({status or 'all'})")
    for column in ("id", "account", "entity", "kind", "state", "dry-run", "rationale"):
        table.add_column(column)
    for a in actions:
        table.add_row(str(a["id"]), a["account_id"], a["entity_name"], a["kind"], a["state"],
                      "yes" if a["dry_run"] else "", a["rationale"])
    _console().print(table)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
