"""`actions ...` and the kill switch: the human side of the action queue."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from sqlalchemy import Engine, select

from agent import store
from agent.actions import (
    STATES,
    action_as_dict,
    create_action,
    get_action,
    list_actions,
    transition,
)
from agent.approvals.decisions import decide_action
from agent.clock import Clock
from agent.commands.common import (
    EXIT_BAD_INPUT,
    clock_for,
    config_option,
    console_for,
    engine_for,
    ensure_schema,
    load_or_exit,
    today_option,
)
from agent.config import AgentConfig
from agent.cycle import build_connectors
from agent.executor import ExecutionReport, execute_approved
from agent.gate import context_for, decide
from agent.models import AuditEvent
from agent.recovery import recover
from policies.base import Proposal

INVERSE_KIND = {"pause": "enable", "enable": "pause", "set_budget": "set_budget"}


def _fail(message: str) -> None:
    console_for(stderr=True).print(f"error: {message}", markup=False)
    raise SystemExit(EXIT_BAD_INPUT)


def _action_or_fail(engine: Engine, action_id: int) -> Any:
    with engine.connect() as connection:
        action = get_action(connection, action_id)
    if action is None:
        _fail(f"no action with id {action_id} (see `paid-media-agent actions list`)")
    return action


def _execute_now(engine: Engine, config: AgentConfig, clock: Clock, action_ids: list[int] | None) -> ExecutionReport:
    """Settle anything a crash left half-done, then execute (at most once each)."""
    connectors = build_connectors(config, clock, engine)
    settled = recover(engine, connectors, config, clock)
    report = execute_approved(engine, connectors, config, clock, action_ids=action_ids, worker=f"cli:{os.getpid()}")
    report.outcomes.update(settled.outcomes)
    return report


def _print_report(report: ExecutionReport) -> None:
    outcome = ", ".join(f"{k}={v}" for k, v in sorted(report.outcomes.items()) if v) or "nothing to execute"
    console_for().print(f"execution: {outcome}", markup=False)
    for problem in report.write_problems:
        console_for().print(f"  write: {problem}", markup=False)


def _short(text: str, limit: int) -> str:
    """One line of a table; `actions show ID` has the whole text."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@click.group("actions")
def actions_group() -> None:
    """The action queue: list, inspect, approve, reject, undo."""


@actions_group.command("list")
@click.option("--status", type=click.Choice(STATES), default=None, help="Only actions in this state.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
def actions_list(status: str | None, as_json: bool, config_path: Path) -> None:
    """Proposed, queued and finished actions."""
    config = load_or_exit(config_path)
    with engine_for(config) as engine:
        ensure_schema(engine)
        with engine.connect() as connection:
            actions = list_actions(connection, status)
    if as_json:
        click.echo(json.dumps([action_as_dict(a) for a in actions], indent=2, default=str))
        return
    table = Table(title=f"actions ({status or 'all'})")
    for column in ("id", "account", "entity", "kind", "state", "dry-run", "rationale"):
        table.add_column(column)
    for a in actions:
        table.add_row(str(a["id"]), a["account_id"], _short(a["entity_name"], 40), a["kind"], a["state"],
                      "yes" if a["dry_run"] else "", _short(a["rationale"], 90))
    console_for().print(table)


@actions_group.command("show")
@click.argument("action_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
def actions_show(action_id: int, as_json: bool, config_path: Path) -> None:
    """One action: proposal, rationale, evidence and every state change (who, when, how)."""
    config = load_or_exit(config_path)
    with engine_for(config) as engine:
        ensure_schema(engine)
        action = _action_or_fail(engine, action_id)
        with engine.connect() as connection:
            events = connection.execute(
                select(AuditEvent.__table__).where(AuditEvent.action_id == action_id).order_by(AuditEvent.id)
            ).mappings().all()
    history = [{"at": e["at"].isoformat(), "event": e["event"], "actor": e["actor"], "message": e["message"],
                "data": e["data"]} for e in events]
    if as_json:
        click.echo(json.dumps({**action_as_dict(action), "history": history}, indent=2, default=str))
        return
    console = console_for()
    console.print(f"action {action['id']}: {action['kind']} {action['entity_name']} ({action['entity_id']}, "
                  f"account {action['account_id']}) — {action['state']}", markup=False)
    console.print(f"  change:    {json.dumps(action['change'])}", markup=False)
    console.print(f"  rationale: {action['rationale']}", markup=False)
    console.print(f"  evidence:  {json.dumps(action['evidence'], default=str)}", markup=False)
    console.print("  history:", markup=False)
    for event in history:
        console.print(f"    {event['at']}  {event['event']:<24} {event['actor']:<24} {event['message']}",
                      markup=False)


@actions_group.command("approve")
@click.argument("action_id", type=int)
@click.option("--by", "approver", default="cli", show_default=True, help="Who approves (kept in the audit trail).")
@click.option("--no-execute", is_flag=True, help="Only approve; the next cycle executes it.")
@config_option
@today_option
def actions_approve(action_id: int, approver: str, no_execute: bool, config_path: Path, today: Any) -> None:
    """Approve a pending action, then execute it (drift check and guardrails first)."""
    config = load_or_exit(config_path)
    clock = clock_for(today)
    with engine_for(config) as engine:
        ensure_schema(engine)
        outcome = decide_action(engine, action_id, "approve", approver=approver, channel="cli", now=clock.now())
        if not outcome.ok:
            _fail(outcome.message)
        console_for().print(f"action {action_id} approved by {approver}", markup=False)
        if not no_execute:
            _print_report(_execute_now(engine, config, clock, [action_id]))


@actions_group.command("reject")
@click.argument("action_id", type=int)
@click.option("--reason", default="rejected by a person", show_default=True)
@click.option("--by", "approver", default="cli", show_default=True)
@config_option
@today_option
def actions_reject(action_id: int, reason: str, approver: str, config_path: Path, today: Any) -> None:
    """Reject a pending or approved action; it will never execute."""
    config = load_or_exit(config_path)
    clock = clock_for(today)
    with engine_for(config) as engine:
        ensure_schema(engine)
        outcome = decide_action(engine, action_id, "reject", approver=approver, channel="cli", now=clock.now(),
                                reason=reason)
        if not outcome.ok:
            _fail(outcome.message)
    console_for().print(f"action {action_id} rejected: {reason}", markup=False)


@actions_group.command("undo")
@click.argument("action_id", type=int)
@click.option("--by", "requester", default="cli", show_default=True)
@config_option
@today_option
def actions_undo(action_id: int, requester: str, config_path: Path, today: Any) -> None:
    """Propose the inverse of an executed action, through the same gate (and execute it if allowed)."""
    config = load_or_exit(config_path)
    clock = clock_for(today)
    with engine_for(config) as engine:
        ensure_schema(engine)
        action = _action_or_fail(engine, action_id)
        if action["state"] != "executed":
            _fail(f"action {action_id} is {action['state']}; only executed actions can be undone")
        if action["kind"] not in INVERSE_KIND:
            _fail(f"{action['kind']} cannot be undone automatically; revert it in the platform")
        account = config.account(action["account_id"])
        proposal = Proposal(
            kind=INVERSE_KIND[action["kind"]], policy="undo", account_id=action["account_id"],
            entity_id=action["entity_id"], entity_level=action["entity_level"], entity_name=action["entity_name"],
            change={"from": action["change"]["to"], "to": action["change"]["from"]},
            rationale=f"undo of action {action_id} requested by {requester}",
            evidence={"undo_of": action_id},
        )
        now = clock.now()
        with engine.begin() as connection:
            ctx = context_for(connection, account, config, now, store.load_entities(connection, account.id))
            decision = decide(proposal, account, config, dry_run=False,
                              settings=config.guardrail_settings(account), ctx=ctx)
            new_id = create_action(connection, proposal, cycle_id=None, permission=decision.permission,
                                   dry_run=False, now=now, key_salt=f"undo-{action_id}-{now.isoformat()}")
            transition(connection, new_id, decision.state, actor=f"cli:{requester}", now=now, reason=decision.reason)
        console_for().print(f"undo proposed as action {new_id}: {decision.state} ({decision.reason})", markup=False)
        if decision.state == "approved":
            _print_report(_execute_now(engine, config, clock, [new_id]))


@actions_group.command("execute")
@config_option
@today_option
def actions_execute(config_path: Path, today: Any) -> None:
    """Execute every approved action now (the cycle does this too)."""
    config = load_or_exit(config_path)
    clock = clock_for(today)
    with engine_for(config) as engine:
        ensure_schema(engine)
        _print_report(_execute_now(engine, config, clock, None))


def _set_kill_switch(engine: Engine, on: bool, operator: str, now: datetime) -> None:
    """Flip the kill switch for every process, and say who did it in the audit trail."""
    with engine.begin() as connection:
        store.set_flag(connection, store.KILL_SWITCH, on, operator, now)
        store.record_event(connection, at=now, event="kill_switch", actor=f"cli:{operator}",
                           message="all automation paused" if on else "automation resumed")


@click.command("pause-all-automation")
@click.option("--by", "operator", default="cli", show_default=True)
@config_option
def pause_all_automation(operator: str, config_path: Path) -> None:
    """Kill switch: stop all execution at once, in every process. Reporting goes on."""
    config = load_or_exit(config_path)
    clock = clock_for(None)
    with engine_for(config) as engine:
        ensure_schema(engine)
        _set_kill_switch(engine, True, operator, clock.now())
    console_for().print("all automation paused: nothing will execute until `resume-automation`", markup=False)


@click.command("resume-automation")
@click.option("--by", "operator", default="cli", show_default=True)
@click.option("--no-execute", is_flag=True, help="Do not execute the approved queue right away.")
@config_option
@today_option
def resume_automation(operator: str, no_execute: bool, config_path: Path, today: Any) -> None:
    """Lift the kill switch; approved actions execute after a fresh drift check."""
    config = load_or_exit(config_path)
    clock = clock_for(today)
    with engine_for(config) as engine:
        ensure_schema(engine)
        _set_kill_switch(engine, False, operator, clock.now())
        console_for().print("automation resumed", markup=False)
        if config.kill_switch:
            console_for().print("note: kill_switch is still true in the config file", markup=False)
        elif not no_execute:
            _print_report(_execute_now(engine, config, clock, None))
