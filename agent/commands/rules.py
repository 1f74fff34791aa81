"""`rules ...`: templates, a new rule from a template, what a rule would do today, and its traces."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from agent.clock import local_today
from agent.commands.common import (
    clock_for,
    config_option,
    engine_for,
    ensure_schema,
    fail,
    load_or_exit,
    today_option,
)
from agent.config import AgentConfig
from agent.decisions.gate import effective_permission
from agent.decisions.snapshots import load_snapshot
from agent.decisions.user_rules import with_today
from agent.rules_config import RuleFileError, parse_rules, read_rule_file
from agent.storage.intraday_store import load_intraday
from agent.storage.rule_records import load_rule_history, load_traces
from policies.rules.evaluate import evaluate_rule, is_due
from policies.rules.schema import Rule, rules_json_schema
from policies.rules.templates import TEMPLATES, template


@click.group("rules")
def rules_group() -> None:
    """User-defined rules (docs/rules.md)."""


@rules_group.command("templates")
def rules_templates() -> None:
    """List the templates: one per line, its name then what it does."""
    width = max(len(t.name) for t in TEMPLATES)
    for found in TEMPLATES:
        click.echo(f"{found.name:<{width}}  {found.description}")


@rules_group.command("new")
@click.option("--template", "name", required=True, help="A name from `rules templates`.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def rules_new(name: str, out: Path, force: bool) -> None:
    """Write an editable copy of a template (put it in the `rules/` folder next to the config)."""
    try:
        chosen = template(name)
    except KeyError as error:
        fail(str(error.args[0]))
        return
    if out.exists() and not force:
        fail(f"{out} already exists (add --force to overwrite it)")
    if not out.parent.is_dir():
        fail(f"no such folder: {out.parent}")
    handle, scratch = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as file:  # whole or nothing: written aside, then moved
        file.write(chosen.text)
    os.replace(scratch, out)
    click.echo(f"wrote {out} (template {chosen.name}); check it with `paid-media-agent rules test {out}`")


@rules_group.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of a rules file (for editors; docs/rules.schema.json)."""
    click.echo(json.dumps(rules_json_schema(), indent=2, sort_keys=True))


def chosen_rules(name_or_file: str, config: AgentConfig) -> tuple[Rule, ...]:
    """The rules of a file (validated like the config's), or the configured rule of that name; exit 2 else."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            fail(f"no such file: {path}")
        try:
            raw = read_rule_file(path)
        except RuleFileError as error:
            fail(error.problems[0])
        rules, problems = parse_rules(None, raw, [a.id for a in config.accounts])
        if problems:
            fail(f"{path} is invalid: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        return rules
    for rule in config.rules:
        if rule.name == name_or_file:
            return (rule,)
    known = ", ".join(r.name for r in config.rules) or "none configured"
    fail(f"no rule {name_or_file!r} in the config (rules: {known}); give a rules file to test one not yet loaded")
    return ()


def _number(value: Any) -> str:
    if value is None:
        return "none"
    if value == "inf":
        return "infinite"
    return f"{value:,.4g}" if isinstance(value, (int, float)) else str(value)


def print_entity(trace: Mapping[str, Any]) -> None:
    mark = "FIRED" if trace["fired"] else "-    "
    click.echo(f"  {mark} {trace['entity_id']} ({trace['entity_name']}): {trace['outcome']}")
    for condition in trace["conditions"]:
        probability = f", P = {condition['probability']:.3f}" if condition.get("probability") is not None else ""
        note = f" ({condition['note']})" if condition.get("note") else ""
        verdict = "holds" if condition["holds"] else "does not hold"
        click.echo(f"        {condition['condition']}: {_number(condition['value'])} vs "
                   f"{_number(condition['reference'])}{probability} -> {verdict}{note}")


@rules_group.command("test")
@click.argument("name_or_file")
@click.option("--entity", "entity_id", default=None, help="Show only this entity.")
@config_option
@today_option
def rules_test(name_or_file: str, entity_id: str | None, config_path: Path, today: Any) -> None:
    """What a rule (configured, by NAME, or from a FILE) would do today on the stored data. Changes nothing."""
    config = load_or_exit(config_path)
    rules = chosen_rules(name_or_file, config)
    clock = clock_for(today)
    with engine_for(config) as engine:
        ensure_schema(engine)
        for account in config.accounts:
            day = local_today(clock, account.timezone)
            snapshot = load_snapshot(engine, account, day, clock)
            with engine.connect() as connection:
                history = load_rule_history(connection, account.id, account.timezone, clock.now())
                partial, pulled_at = load_intraday(connection, account.id, day)
            snapshot = with_today(snapshot, partial)
            now_local = clock.now().astimezone(ZoneInfo(account.timezone))
            prior = config.policy_settings(account).underperformers.prior_conversions
            for rule in rules:
                if rule.scope.accounts and account.id not in rule.scope.accounts:
                    continue
                due = is_due(rule, now_local, history.last_evaluated.get(rule.name))
                proposals, traces = evaluate_rule(rule, snapshot, history, prior)
                latest = max((r.day for rows in snapshot.daily.values() for r in rows), default=None)
                click.echo(f"rule {rule.name} on {account.id}, {day} ({account.timezone}; stored data up to "
                           f"{latest or 'none'}"
                           + (f", today so far as pulled at {pulled_at:%H:%M} UTC" if pulled_at is not None else "")
                           + f"): {'due now' if due else 'not due now by its schedule'}"
                           f"{'; dry-run: reports only' if rule.dry_run else ''}")
                for trace in traces:
                    if entity_id is None or trace.entity_id == entity_id:
                        print_entity(trace.as_dict())
                if not traces:
                    click.echo("  no entity in its scope")
                for proposal in proposals:
                    level = "report" if rule.dry_run else effective_permission(proposal.kind, account, config)
                    click.echo(f"  would propose {proposal.kind} on {proposal.entity_id} "
                               f"{json.dumps(dict(proposal.change))} (permission {level})")


def print_traces(evaluations: Sequence[Mapping[str, Any]]) -> None:
    for evaluation in evaluations:
        click.echo(f"{evaluation['day']} {evaluation['account_id']} cycle {evaluation['cycle_id']} "
                   f"(recorded {evaluation['at']:%Y-%m-%d %H:%M} UTC)")
        for trace in evaluation["entities"]:
            print_entity(trace)


@rules_group.command("trace")
@click.argument("rule")
@click.option("--entity", "entity_id", default=None, help="Only this entity's traces.")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=5, show_default=True,
              help="Evaluations to show, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print the traces as JSON.")
@config_option
def rules_trace(rule: str, entity_id: str | None, limit: int, as_json: bool, config_path: Path) -> None:
    """Why a rule fired or did not: each evaluation's condition values, per entity, newest first."""
    config = load_or_exit(config_path)
    with engine_for(config) as engine:
        ensure_schema(engine)
        with engine.connect() as connection:
            evaluations = load_traces(connection, rule, entity_id, limit)
    if as_json:
        click.echo(json.dumps([{**e, "at": e["at"].isoformat()} for e in evaluations], indent=2))
        return
    if not evaluations:
        where = f" on entity {entity_id}" if entity_id else ""
        click.echo(f"no evaluation of rule {rule!r}{where} recorded yet")
        return
    print_traces(evaluations)
