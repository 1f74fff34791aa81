"""`backtest`: replay the policies on a simulated world and compare with no agent, a naive rule and an oracle."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from agent.backtest_cycle import WORLDS, run_cycle_backtest
from agent.commands.common import EXIT_BAD_INPUT, console_for, load_or_exit
from policies import POLICY_NAMES


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@click.command("backtest")
@click.option("--days", type=click.IntRange(min=8, max=365), default=90, show_default=True,
              help="Days to replay, from the simulated world's first day.")
@click.option("--policy", "policies", type=click.Choice(POLICY_NAMES), multiple=True,
              help="Run only these policies (repeatable). Default: all.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the simulated world.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Policies, guardrails and permissions (its defaults and same-id accounts); every kind on auto "
                   "unless it says otherwise.")
@click.option("--world", type=click.Choice(sorted(WORLDS)), default="demo", show_default=True,
              help="The simulated world (its accounts and ad sets).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def backtest_command(days: int, policies: tuple[str, ...], seed: int, config_path: Path | None, world: str,
                     as_json: bool) -> None:
    """Replay the agent day by day on the simulator, through the daemon's own cycle (gate, guardrails,
    cooldowns, executor), against no agent, the naive rule and an oracle."""
    config = load_or_exit(config_path) if config_path is not None else None
    try:
        report = run_cycle_backtest(seed, days, policies or None, config=config, world=world)
    except ValueError as error:
        console_for(stderr=True).print(f"error: {error}", markup=False)
        raise SystemExit(EXIT_BAD_INPUT) from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    table = Table(title=f"Backtest: seed {seed}, {days} days, {report.ad_sets} ad sets, target ROAS "
                        f"{report.target_roas:g} (money in USD)")
    for column in ("arm", "spend", "conversions", "value", "ROAS", "CPA", "actions", "pauses", "false pauses",
                   "surplus"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name, arm in report.arms.items():
        table.add_row(name, _money(arm.spend), f"{arm.conversions:,.0f}", _money(arm.conversion_value),
                      _ratio(arm.roas), _ratio(arm.cpa), str(arm.actions), str(arm.pauses), str(arm.false_pauses),
                      _money(arm.surplus))
    console = console_for()
    console.print(table)
    captured = report.surplus_captured
    console.print(f"surplus = value - target ROAS x spend; agent captures "
                  f"{'-' if captured is None else f'{captured:.0%}'} of the oracle's gain over no agent.",
                  markup=False)
