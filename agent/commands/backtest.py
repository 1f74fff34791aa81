"""`backtest`: replay the policies on a simulated world and compare with no agent, a naive rule and an oracle."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from agent.backtesting.cycle_arm import WORLDS, run_cycle_backtest
from agent.backtesting.objectives import OBJECTIVE_KINDS, backtest_objectives
from agent.backtesting.rules import load_rules_for_backtest, run_rules_backtest
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
@click.option("--objective", type=click.Choice(OBJECTIVE_KINDS), default=None,
              help="Judge ad sets on this objective (every account); default: the config's, else platform ROAS.")
@click.option("--target", type=click.FloatRange(min=0, min_open=True), default=None,
              help="The objective's target (every account). Default in the b2b world: the advertiser's targets "
                   "(docs/policies.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Replay the user rules of this file (docs/rules.md); the built-in policies are off unless "
                   "--with-policies.")
@click.option("--with-policies", is_flag=True, help="With --rules: run the built-in policies too.")
def backtest_command(days: int, policies: tuple[str, ...], seed: int, config_path: Path | None, world: str,
                     objective: str | None, target: float | None, as_json: bool, rules_path: Path | None,
                     with_policies: bool) -> None:
    """Replay the agent day by day on the simulator, through the daemon's own cycle (gate, guardrails,
    cooldowns, executor), against no agent, the naive rule and an oracle."""
    config = load_or_exit(config_path) if config_path is not None else None
    churn: float | None = None
    try:
        objectives = backtest_objectives(world, objective, target)
        # a replay takes a while (35 s for the default 90 days): show how far it is, on stderr
        with Progress(TextColumn("replaying day {task.completed} of {task.total}"), BarColumn(),
                      TimeRemainingColumn(), console=console_for(stderr=True), transient=True) as progress:
            task = progress.add_task("backtest", total=days - 1)

            def on_day(done: int, _total: int) -> None:
                progress.update(task, completed=done)

            if rules_path is not None:
                rules = load_rules_for_backtest(rules_path, world)
                replay = run_rules_backtest(seed, days, rules, config=config, policies=policies,
                                            with_policies=with_policies, world=world)
                report, churn = replay.report, replay.churn
            else:
                report = run_cycle_backtest(seed, days, policies or None, config=config, world=world,
                                            objectives=objectives, on_day=on_day)
    except ValueError as error:
        console_for(stderr=True).print(f"error: {error}", markup=False)
        raise SystemExit(EXIT_BAD_INPUT) from None
    if as_json:
        data = report.as_dict() if churn is None else replay.as_dict()
        click.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"Backtest: seed {seed}, {days} days, {report.ad_sets} ad sets, target ROAS "
                        f"{report.target_roas:g} (money in USD)")
    pipeline = any(arm.pipeline is not None for arm in report.arms.values())
    for column in ("arm", "spend", "conversions", "value", "ROAS", "CPA", "actions", "pauses", "false pauses",
                   "surplus", *(("pipeline", "pipeline surplus") if pipeline else ())):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name, arm in report.arms.items():
        table.add_row(name, _money(arm.spend), f"{arm.conversions:,.0f}", _money(arm.conversion_value),
                      _ratio(arm.roas), _ratio(arm.cpa), str(arm.actions), str(arm.pauses), str(arm.false_pauses),
                      _money(arm.surplus), *((_money(arm.pipeline), _money(arm.pipeline_surplus)) if pipeline else ()))
    console = console_for()
    console.print(table)
    captured = report.surplus_captured
    if churn is not None:
        console.print(f"rules {', '.join(replay.rules)} ({'with' if with_policies else 'without'} the built-in "
                      f"policies): churn {churn:.3f} changes per ad set per week", markup=False)
    console.print(f"surplus = value - target ROAS x spend; agent captures "
                  f"{'-' if captured is None else f'{captured:.0%}'} of the oracle's gain over no agent.",
                  markup=False)
