"""`paid-media-agent ...`: the command line.

Exit codes: 0 success, 1 a run that failed, 2 bad input (config, arguments) with a message that
names the problem. Nothing is written to the database before the config has validated.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from agent import logs
from agent.audiences.config_warnings import audience_warnings
from agent.auth.checks import auth_warnings
from agent.bootstrap import build_connectors, run_configured_cycle
from agent.commands.actions import actions_group, pause_all_automation, resume_automation
from agent.commands.actions_settle import actions_settle
from agent.commands.annotate import annotate
from agent.commands.audiences import audiences_group
from agent.commands.audit import audit_group
from agent.commands.backtest import backtest_command
from agent.commands.common import (
    EXIT_BAD_INPUT,
    LOG_LEVEL,
    clock_for,
    config_option,
    console_for,
    engine_for,
    ensure_schema,
    line_per_event,
    load_or_exit,
    refuse_going_back,
    replay_option,
    today_option,
)
from agent.commands.connectors_check import connectors_group
from agent.commands.outcomes import outcomes_group, report_outcomes
from agent.commands.privacy import privacy_group
from agent.commands.report import report_group
from agent.commands.rules import rules_group
from agent.commands.segments import segments_group
from agent.commands.segments_suggest import segments_suggest
from agent.commands.sim_crm import crm_export
from agent.commands.users import users_group
from agent.config import AgentConfig
from agent.customers.settings import segment_warnings
from agent.cycle.summary import CycleSummary
from agent.decisions.gate import permission_matrix
from agent.objectives import objective_warnings
from agent.runtime.service import AgentService
from agent.storage import db
from connectors.errors import ConnectorError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """Self-hosted autonomous paid-media agent."""
    LOG_LEVEL[0] = logging.DEBUG if verbose else logging.WARNING
    logs.configure(None, level=LOG_LEVEL[0])


@main.command()
@click.option("--once", is_flag=True, help="Run one full cycle and exit.")
@click.option("--dry-run", is_flag=True, default=None, help="Compute and record everything, change nothing.")
@config_option
@today_option
@replay_option
def run(once: bool, dry_run: bool | None, config_path: Path, today: Any, replay: bool) -> None:
    """Pull metrics, evaluate policies and gate the resulting actions."""
    if not once:
        raise click.UsageError("use `run --once` for a single cycle (the long-running service is `serve`)")
    config = load_or_exit(config_path)
    clock = clock_for(today)
    console = console_for()
    with engine_for(config) as engine:
        ensure_schema(engine)
        refuse_going_back(engine, clock, replay)
        try:
            connectors = build_connectors(config, clock, engine)
        except ConnectorError as error:
            console_for(stderr=True).print(f"error: {error}", markup=False)
            raise SystemExit(EXIT_BAD_INPUT) from None
        if console.is_terminal:
            with console.status("running cycle...") as status:
                summary = run_configured_cycle(engine, config, clock, connectors, config_path=config_path,
                                               dry_run=dry_run or None, progress=lambda message: status.update(message))
        else:
            summary = run_configured_cycle(engine, config, clock, connectors, config_path=config_path,
                                           dry_run=dry_run or None, progress=line_per_event())
    _print_summary(console, summary, config)
    if summary.accounts_failed == summary.accounts:
        raise SystemExit(1)


def _print_summary(console: Console, summary: CycleSummary, config: AgentConfig) -> None:
    mode = "DRY-RUN (nothing was changed)" if summary.dry_run else "live"
    console.print(f"cycle {summary.cycle_id} finished ({mode}): {summary.status}", markup=False)
    console.print(f"  accounts:             {summary.accounts} ({summary.accounts_failed} failed)", markup=False)
    console.print(f"  ad sets:              {summary.ad_sets}", markup=False)
    console.print(f"  metric rows upserted: {summary.metric_rows_upserted}", markup=False)
    console.print(f"  search-term rows:     {summary.search_term_rows_upserted}", markup=False)
    proposals = ", ".join(f"{k}={v}" for k, v in sorted(summary.proposals_by_kind.items())) or "none"
    actions = ", ".join(f"{k}={v}" for k, v in sorted(summary.actions_by_state.items())) or "none"
    console.print(f"  proposals by kind:    {proposals}", markup=False)
    console.print(f"  actions by state:     {actions}", markup=False)
    execution = ", ".join(f"{k}={v}" for k, v in sorted(summary.execution.items()) if v) or "nothing"
    console.print(f"  execution:            {execution}", markup=False)
    for error in summary.errors:
        console.print(f"  error: {error}", markup=False)
    for problem in summary.write_problems:
        console.print(f"  write: {problem}", markup=False)


@main.group("config")
def config_group() -> None:
    """Configuration commands."""


@config_group.command("check")
@config_option
def config_check(config_path: Path) -> None:
    """Validate the configuration and show the effective permission matrix."""
    config = load_or_exit(config_path)
    console = console_for()
    rules = f", {len(config.rules)} rules" if config.rules else ""
    console.print(f"{config_path}: OK ({len(config.accounts)} accounts{rules})", markup=False)
    for warning in [*config.approvals.warnings(), *auth_warnings(config.service),
                    *objective_warnings(config.accounts, config.defaults.objective),
                    *segment_warnings(config.segments, config.privacy),
                    *audience_warnings(config.accounts)]:
        console_for(stderr=True).print(f"warning: {warning}", markup=False)
    console.print(permission_table(permission_matrix(config)))


def permission_table(matrix: dict[str, dict[str, str]]) -> Table:
    """One row per action kind, one column per group of accounts with the same permissions: the
    kinds' names stay whole however many there are, and 2,000 accounts on one profile are one column."""
    groups: dict[tuple[str, ...], list[str]] = {}
    kinds = list(next(iter(matrix.values())))
    for account_id, levels in matrix.items():
        groups.setdefault(tuple(levels[k] for k in kinds), []).append(account_id)
    table = Table(title="effective permissions (action kind x accounts)")
    table.add_column("action kind", no_wrap=True)
    for accounts in groups.values():
        more = f" (+{len(accounts) - 3} more)" if len(accounts) > 3 else ""
        table.add_column(", ".join(accounts[:3]) + more)
    for index, kind in enumerate(kinds):
        table.add_row(kind, *(levels[index] for levels in groups))
    return table


@main.group("db")
def db_group() -> None:
    """Database commands."""


@db_group.command("upgrade")
@config_option
def db_upgrade(config_path: Path) -> None:
    """Apply Alembic migrations up to the newest revision."""
    config = load_or_exit(config_path)
    with engine_for(config) as engine:
        db.upgrade(engine)
        revision = db.current_revision(engine)
    console_for().print(f"database at revision {revision}", markup=False)


@main.group("sim")
def sim_group() -> None:
    """The built-in simulated ad platform."""


@sim_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
@today_option
def sim_show(as_json: bool, config_path: Path, today: Any) -> None:
    """The simulated world's entities as the platform sees them now (status, budgets)."""
    config = load_or_exit(config_path)
    clock = clock_for(today)
    with engine_for(config) as engine:
        ensure_schema(engine)
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
    console_for().print(table)


@main.command()
@config_option
def serve(config_path: Path) -> None:
    """Run as a service: scheduled cycles, approvals, HTTP (health, metrics, dashboard)."""
    config = load_or_exit(config_path)
    logs.configure(config, fmt=config.service.log_format, level=logging.INFO)
    with engine_for(config) as engine:
        ensure_schema(engine)
    raise SystemExit(AgentService(config, config_path).run())


actions_group.add_command(actions_settle)
main.add_command(actions_group)
main.add_command(pause_all_automation)
main.add_command(resume_automation)
main.add_command(audit_group)
main.add_command(report_group)
main.add_command(connectors_group)
main.add_command(backtest_command)
main.add_command(users_group)
main.add_command(outcomes_group)
main.add_command(annotate)
report_group.add_command(report_outcomes)
sim_group.add_command(crm_export)
main.add_command(rules_group)
segments_group.add_command(segments_suggest)
main.add_command(segments_group)
main.add_command(privacy_group)
main.add_command(audiences_group)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
