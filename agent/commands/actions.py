"""`actions ...` and the kill switch: the human side of the action queue."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from sqlalchemy import Engine

from agent.approvals.decisions import Verdict, decide_action
from agent.bootstrap import build_connectors
from agent.commands.annotate import os_user
from agent.commands.common import (
    EXIT_BAD_INPUT,
    Session,
    config_option,
    console_for,
    session_for,
    today_option,
)
from agent.decisions.gate import context_for, decide
from agent.decisions.undo import INVERSE_KIND, undo_proposal
from agent.execution.executor import ExecutionReport, execute_approved
from agent.execution.recovery import recover
from agent.storage import audit_trail, flags, store
from agent.storage.action_states import (
    STATES,
    action_as_dict,
    create_action,
    get_action,
    list_actions,
    transition,
)
from connectors.records import MUTATION_KINDS


def _fail(message: str) -> None:
    console_for(stderr=True).print(f"error: {message}", markup=False)
    raise SystemExit(EXIT_BAD_INPUT)


def _action_or_fail(engine: Engine, action_id: int) -> Any:
    with engine.connect() as connection:
        action = get_action(connection, action_id)
    if action is None:
        _fail(f"no action with id {action_id} (see `paid-media-agent actions list`)")
    return action


def _execute_now(session: Session, action_ids: list[int] | None) -> ExecutionReport:
    """Settle anything a crash left half-done, then execute (at most once each)."""
    engine, config, clock = session.engine, session.config, session.clock
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
    with session_for(config_path, create=False) as session, session.engine.connect() as connection:
        actions = list_actions(connection, status)
    if as_json:
        click.echo(json.dumps([action_as_dict(a) for a in actions], indent=2, default=str))
        return
    table = Table(title=f"actions ({status or 'all'})")
    held = status == "held_out"  # with the draw: arm, unit drawn, seed and the end of the horizon
    for column in ("id", "account", "entity", "kind", "state", "dry-run", "rationale",
                   *(("arm", "unit", "draw seed", "horizon ends") if held else ())):
        table.add_column(column)
    for a in actions:
        draw = action_as_dict(a)["experiment"] or {}
        table.add_row(str(a["id"]), a["account_id"], _short(a["entity_name"], 40), a["kind"], a["state"],
                      "yes" if a["dry_run"] else "", _short(a["rationale"], 90 if not held else 50),
                      *((str(draw.get("arm", "")), _unit_text(draw), str(draw.get("draw_seed", "")),
                         str(draw.get("horizon_end", ""))[:16]) if held else ()))
    console_for().print(table)


def _unit_text(draw: dict[str, Any]) -> str:
    """What drew the arm: the entity itself, or its campaign (named)."""
    if draw.get("unit") == "campaign":
        return f"campaign {draw.get('cluster_id')}"
    return "entity" if draw else ""


@actions_group.command("show")
@click.argument("action_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
def actions_show(action_id: int, as_json: bool, config_path: Path) -> None:
    """One action: proposal, rationale, evidence and every state change (who, when, how)."""
    with session_for(config_path, create=False) as session:
        action = _action_or_fail(session.engine, action_id)
        with session.engine.connect() as connection:
            events = audit_trail.action_events(connection, action_id)
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


def _decide_each(engine: Engine, action_ids: tuple[int, ...], verdict: Verdict, approver: str, now: datetime,
                 reason: str = "") -> tuple[list[int], list[str]]:
    """Each id through `decide_action` (the one path of every channel): the decided ids, the refusals."""
    decided, refused = [], []
    for action_id in dict.fromkeys(action_ids):
        outcome = decide_action(engine, action_id, verdict, approver=approver, channel="cli", now=now, reason=reason)
        if outcome.ok:
            decided.append(action_id)
        else:
            refused.append(outcome.message)
    return decided, refused


by_option = click.option("--by", "approver", default=None,
                         help="Who decides (kept in the audit trail). Default: the operating-system user.")
filter_options = (
    click.option("--kind", type=click.Choice(MUTATION_KINDS), default=None, help="Every pending action of this kind..."),
    click.option("--account", "account_id", default=None, help="...and/or of this account."),
)


def _with_filters(command: Any) -> Any:
    for option in reversed(filter_options):
        command = option(command)
    return command


def _chosen_ids(engine: Engine, action_ids: tuple[int, ...], kind: str | None, account_id: str | None,
                states: tuple[str, ...]) -> tuple[int, ...]:
    """The ids named, or those the filters select among actions in `states`; exit 2 if neither or both."""
    if action_ids and (kind or account_id):
        _fail("name action ids or filter with --kind/--account, not both")
    if action_ids:
        return action_ids
    if not (kind or account_id):
        _fail("name the action ids (`approve 7 8 9`) or filter (`--kind set_budget --account X`)")
    with engine.connect() as connection:
        chosen = [a["id"] for state in states for a in list_actions(connection, state)
                  if (kind is None or a["kind"] == kind) and (account_id is None or a["account_id"] == account_id)
                  and not a["dry_run"]]
    if not chosen:
        _fail(f"no {' or '.join(states)} action matches"
              + (f" kind {kind}" if kind else "") + (f" account {account_id}" if account_id else ""))
    return tuple(sorted(chosen))


@actions_group.command("approve")
@click.argument("action_ids", metavar="[ID...]", type=int, nargs=-1)
@_with_filters
@by_option
@click.option("--no-execute", is_flag=True, help="Only approve; the next cycle executes them.")
@config_option
@today_option
def actions_approve(action_ids: tuple[int, ...], kind: str | None, account_id: str | None, approver: str | None,
                    no_execute: bool, config_path: Path, today: Any) -> None:
    """Approve pending actions (`approve 7 8 9`, or `approve --kind set_budget --account X` for every
    pending one that matches), then execute them (drift check and guardrails first)."""
    approver = approver or os_user()
    with session_for(config_path, today) as session:
        chosen = _chosen_ids(session.engine, action_ids, kind, account_id, ("pending_approval",))
        approved, refused = _decide_each(session.engine, chosen, "approve", approver, session.clock.now())
        for action_id in approved:
            console_for().print(f"action {action_id} approved by {approver}", markup=False)
        if approved and not no_execute:
            _print_report(_execute_now(session, approved))
        if refused:
            _fail("; ".join(refused))


@actions_group.command("reject")
@click.argument("action_ids", metavar="[ID...]", type=int, nargs=-1)
@_with_filters
@click.option("--reason", default="rejected by a person", show_default=True)
@by_option
@config_option
@today_option
def actions_reject(action_ids: tuple[int, ...], kind: str | None, account_id: str | None, reason: str,
                   approver: str | None, config_path: Path, today: Any) -> None:
    """Reject pending or approved actions (`reject 7 8 9`, or `reject --kind pause --account X`); they
    will never execute."""
    approver = approver or os_user()
    with session_for(config_path, today) as session:
        chosen = _chosen_ids(session.engine, action_ids, kind, account_id, ("pending_approval", "approved"))
        rejected, refused = _decide_each(session.engine, chosen, "reject", approver, session.clock.now(), reason)
    for action_id in rejected:
        console_for().print(f"action {action_id} rejected: {reason}", markup=False)
    if refused:
        _fail("; ".join(refused))


@actions_group.command("undo")
@click.argument("action_id", type=int)
@click.option("--by", "requester", default=None, help="Who asks (audit trail). Default: the operating-system user.")
@config_option
@today_option
def actions_undo(action_id: int, requester: str | None, config_path: Path, today: Any) -> None:
    """Propose the inverse of an executed action, through the same gate (and execute it if allowed)."""
    requester = requester or os_user()
    with session_for(config_path, today) as session:
        config, engine = session.config, session.engine
        action = _action_or_fail(engine, action_id)
        if action["state"] != "executed":
            _fail(f"action {action_id} is {action['state']}; only executed actions can be undone")
        if action["kind"] not in INVERSE_KIND:
            _fail(f"{action['kind']} cannot be undone automatically; revert it in the platform")
        account = config.account(action["account_id"])
        proposal = undo_proposal(action, requester)
        now = session.clock.now()
        with engine.begin() as connection:
            ctx = context_for(connection, account, config, now, store.load_entities(connection, account.id))
            decision = decide(proposal, account, config, dry_run=False,
                              settings=config.guardrail_settings(account), ctx=ctx)
            new_id = create_action(connection, proposal, cycle_id=None, permission=decision.permission,
                                   dry_run=False, now=now, key_salt=f"undo-{action_id}-{now.isoformat()}")
            transition(connection, new_id, decision.state, actor=f"cli:{requester}", now=now, reason=decision.reason)
        console_for().print(f"undo proposed as action {new_id}: {decision.state} ({decision.reason})", markup=False)
        if decision.state == "approved":
            _print_report(_execute_now(session, [new_id]))


@actions_group.command("execute")
@config_option
@today_option
def actions_execute(config_path: Path, today: Any) -> None:
    """Execute every approved action now (the cycle does this too)."""
    with session_for(config_path, today) as session:
        _print_report(_execute_now(session, None))


def _set_kill_switch(engine: Engine, on: bool, operator: str, now: datetime) -> None:
    """Flip the kill switch for every process, and say who did it in the audit trail."""
    with engine.begin() as connection:
        flags.set_flag(connection, flags.KILL_SWITCH, on, operator, now)
        audit_trail.record_event(connection, at=now, event="kill_switch", actor=f"cli:{operator}",
                                 message="all automation paused" if on else "automation resumed")


@click.command("pause-all-automation")
@click.option("--by", "operator", default=None, help="Who (audit trail). Default: the operating-system user.")
@config_option
def pause_all_automation(operator: str | None, config_path: Path) -> None:
    """Kill switch: stop all execution at once, in every process. Reporting goes on."""
    operator = operator or os_user()
    with session_for(config_path) as session:
        _set_kill_switch(session.engine, True, operator, session.clock.now())
    console_for().print("all automation paused: nothing will execute until `resume-automation`", markup=False)


@click.command("resume-automation")
@click.option("--by", "operator", default=None, help="Who (audit trail). Default: the operating-system user.")
@click.option("--no-execute", is_flag=True, help="Do not execute the approved queue right away.")
@config_option
@today_option
def resume_automation(operator: str | None, no_execute: bool, config_path: Path, today: Any) -> None:
    """Lift the kill switch; approved actions execute after a fresh drift check."""
    operator = operator or os_user()
    with session_for(config_path, today) as session:
        _set_kill_switch(session.engine, False, operator, session.clock.now())
        console_for().print("automation resumed", markup=False)
        if session.config.kill_switch:
            console_for().print("note: kill_switch is still true in the config file", markup=False)
        elif not no_execute:
            _print_report(_execute_now(session, None))
