"""`audiences sync` and `audiences status`: first-party audiences kept in step with CRM segments
(docs/audiences.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from agent.audiences.desired import crm_segment_source
from agent.audiences.gate import gate_audience_syncs
from agent.bootstrap import build_connectors
from agent.commands.common import config_option, console_for, fail, session_for, today_option
from agent.execution.executor import execute_approved
from agent.storage.audience_ledger import audience_summary, lookalikes_of


@click.group("audiences")
def audiences_group() -> None:
    """First-party audiences synced from CRM segments."""


@audiences_group.command("sync")
@click.option("--account", "account_ids", multiple=True, help="Only this account (repeatable).")
@click.option("--dry-run", is_flag=True, help="Say what would be added and removed; send nothing.")
@config_option
@today_option
def audiences_sync(account_ids: tuple[str, ...], dry_run: bool, config_path: Path, today: Any) -> None:
    """Propose each audience's sync through the permission gate, then run what may run (an audience
    the platform refused before, such as LinkedIn without its partner permission, is tried again)."""
    with session_for(config_path, today) as session:
        config, clock, engine = session.config, session.clock, session.engine
        unknown = [a for a in account_ids if a not in {account.id for account in config.accounts}]
        if unknown:
            fail(f"unknown account {', '.join(map(repr, unknown))}")
        dry_run = dry_run or config.dry_run
        console = console_for()
        with engine.connect() as connection:
            for account in config.accounts:
                for segment in sorted(account.audiences) if not account_ids or account.id in account_ids else ():
                    if crm_segment_source(connection, segment) is None:
                        console.print(f"{account.id}: no CRM segment {segment!r} to sync from (import it with "
                                      "`segments import`); its audience is left as it is", markup=False)
        # asked by a person: an audience the platform refused before is tried again
        states = gate_audience_syncs(engine, config, clock.now(), crm_segment_source, dry_run=dry_run,
                                     account_ids=account_ids, retry_refused=True)
        for name, state in sorted(states.items()):
            console.print(f"sync_audience {name}: {state}", markup=False)
        if not states:
            console.print("nothing to change in any audience", markup=False)
        if dry_run or not any(state.startswith("approved") for state in states.values()):
            return
        accounts = sorted({name.split("/")[0] for name in states})
        report = execute_approved(engine, build_connectors(config, clock, engine), config, clock, accounts=accounts)
        executed = ", ".join(f"{k}={v}" for k, v in sorted(report.outcomes.items()) if v) or "nothing"
        console.print(f"executed: {executed}", markup=False)


@audiences_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
def audiences_status(as_json: bool, config_path: Path) -> None:
    """Per account audience: members held, batches awaiting an answer, the last refusal."""
    with session_for(config_path, create=False) as session:
        rows: list[dict[str, Any]] = []
        lookalikes: list[dict[str, Any]] = []
        with session.engine.connect() as connection:
            for account in session.config.accounts:
                held = {row["audience_id"]: row for row in audience_summary(connection, account.id)}
                for segment, audience_id in sorted(account.audiences.items()):
                    row = held.get(audience_id, {})
                    rows.append({"account": account.id, "segment": segment, "audience_id": audience_id,
                                 "members": row.get("members", 0), "pending_batches": row.get("pending", 0),
                                 "last_batch": row.get("last_state"), "problem": row.get("last_error")
                                 if row.get("last_state") in ("rejected", "not_permitted") else None})
                lookalikes += [{"account": account.id, "seed_audience_id": made["seed_audience_id"],
                                "country": made["country"], "ratio": made["ratio"], "state": made["state"],
                                "lookalike_id": made["lookalike_id"], "problem": made["error"]}
                               for made in lookalikes_of(connection, account.id)]
    if as_json:
        click.echo(json.dumps({"audiences": rows, "lookalikes": lookalikes}, indent=2))
        return
    console = console_for()
    if not rows:
        console.print("no audiences configured (accounts[].audiences: {segment: platform audience id})",
                      markup=False)
    for row in rows:
        line = (f"{row['account']} {row['segment']} -> {row['audience_id']}: {row['members']} members, "
                f"{row['pending_batches']} batch(es) awaiting an answer")
        if row["last_batch"] == "not_permitted":
            line += f"; SKIPPED: {row['problem']}"
        elif row["problem"]:
            line += f"; last batch refused: {row['problem']}"
        console.print(line, markup=False)
    for made in lookalikes:
        what = made["lookalike_id"] or made["problem"] or "creation unanswered, looked up before any retry"
        console.print(f"{made['account']} lookalike of {made['seed_audience_id']} ({made['country']}, "
                      f"{made['ratio']}): {made['state']}: {what}", markup=False)
