"""The human side of the queue through the CLI: show, approve, reject, undo, kill switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from agent.cli import main
from tests.e2e.test_cli import TODAY, run_once, write_config


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config)], catch_exceptions=False)


def actions(config: Path, status: str | None = None) -> list[dict[str, Any]]:
    extra = ["--status", status] if status else []
    result = cli(config, "actions", "list", "--json", *extra)
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


def world(config: Path) -> dict[str, dict[str, Any]]:
    result = cli(config, "sim", "show", "--json", "--today", TODAY.isoformat())
    return {e["entity_id"]: e for e in json.loads(result.output)}


def first_pending_pause(config: Path) -> dict[str, Any]:
    pending = [a for a in actions(config, "pending_approval") if a["kind"] == "pause"]
    assert pending, "the seeded world has ad sets worth pausing"
    return pending[0]


def test_approve_executes_and_undo_restores(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    run_once(config, TODAY)
    action = first_pending_pause(config)
    assert world(config)[action["entity_id"]]["status"] == "ACTIVE"

    approved = cli(config, "actions", "approve", str(action["id"]), "--by", "alice", "--today", TODAY.isoformat())
    assert approved.exit_code == 0, approved.output
    assert "executed=1" in approved.output
    assert world(config)[action["entity_id"]]["status"] == "PAUSED"

    shown = json.loads(cli(config, "actions", "show", str(action["id"]), "--json").output)
    assert shown["state"] == "executed"
    approval = next(e for e in shown["history"] if e["event"] == "state:approved")
    assert approval["actor"] == "cli:alice" and approval["data"]["channel"] == "cli"

    # approving twice is refused and changes nothing
    again = cli(config, "actions", "approve", str(action["id"]), "--today", TODAY.isoformat())
    assert again.exit_code == 2 and "is already executed" in again.output

    undo = cli(config, "actions", "undo", str(action["id"]), "--by", "alice", "--today", TODAY.isoformat())
    assert undo.exit_code == 0, undo.output
    undo_action = next(a for a in actions(config) if a["policy"] == "undo")
    assert undo_action["kind"] == "enable" and undo_action["state"] == "pending_approval"
    cli(config, "actions", "approve", str(undo_action["id"]), "--today", TODAY.isoformat())
    assert world(config)[action["entity_id"]]["status"] == "ACTIVE"


def test_reject_is_final(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    run_once(config, TODAY)
    action = first_pending_pause(config)
    rejected = cli(config, "actions", "reject", str(action["id"]), "--reason", "seasonal dip", "--today",
                   TODAY.isoformat())
    assert rejected.exit_code == 0, rejected.output
    shown = json.loads(cli(config, "actions", "show", str(action["id"]), "--json").output)
    assert shown["state"] == "rejected" and shown["decision_reason"] == "seasonal dip"
    late = cli(config, "actions", "approve", str(action["id"]), "--today", TODAY.isoformat())
    assert late.exit_code == 2
    assert world(config)[action["entity_id"]]["status"] == "ACTIVE"


def test_kill_switch_holds_then_resume_executes(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    run_once(config, TODAY)
    action = first_pending_pause(config)
    assert cli(config, "pause-all-automation", "--by", "ops").exit_code == 0
    held = cli(config, "actions", "approve", str(action["id"]), "--today", TODAY.isoformat())
    assert "held=1" in held.output
    assert world(config)[action["entity_id"]]["status"] == "ACTIVE"
    resumed = cli(config, "resume-automation", "--today", TODAY.isoformat())
    assert resumed.exit_code == 0 and "executed=1" in resumed.output
    assert world(config)[action["entity_id"]]["status"] == "PAUSED"


def test_unknown_action_is_a_clear_error(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    run_once(config, TODAY)
    result = cli(config, "actions", "approve", "99999")
    assert result.exit_code == 2 and "no action with id 99999" in result.output


def test_approve_takes_several_ids_and_reports_the_ones_it_cannot(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    run_once(config, TODAY)
    pending = [a for a in actions(config, "pending_approval") if a["kind"] in ("pause", "set_budget")][:2]
    assert len(pending) == 2, "the seeded world proposes pauses and budget changes"
    ids = [str(a["id"]) for a in pending]
    approved = cli(config, "actions", "approve", *ids, "999999", "--by", "alice", "--no-execute",
                   "--today", TODAY.isoformat())
    assert approved.exit_code == 2
    assert all(f"action {i} approved by alice" in approved.output for i in ids)
    assert "no action with id 999999" in approved.output
    states = {str(a["id"]): a["state"] for a in actions(config)}
    assert [states[i] for i in ids] == ["approved", "approved"]


def test_approve_and_reject_by_kind_and_account(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    run_once(config, TODAY)
    pending = actions(config, "pending_approval")
    pauses = [a for a in pending if a["kind"] == "pause"]
    account = pauses[0]["account_id"]
    chosen = sorted(a["id"] for a in pauses if a["account_id"] == account)

    approved = cli(config, "actions", "approve", "--kind", "pause", "--account", account, "--no-execute",
                   "--today", TODAY.isoformat())

    assert approved.exit_code == 0, approved.output
    states = {a["id"]: a for a in actions(config)}
    assert [states[i]["state"] for i in chosen] == ["approved"] * len(chosen)
    untouched = [a for a in pending if a["id"] not in chosen]
    assert all(states[a["id"]]["state"] == "pending_approval" for a in untouched)
    # with no --by, the audit names the person at the keyboard, not a placeholder
    shown = json.loads(cli(config, "actions", "show", str(chosen[0]), "--json").output)
    approval = next(e for e in shown["history"] if e["event"] == "state:approved")
    assert approval["actor"].startswith("cli:") and approval["actor"] != "cli:cli"

    rejected = cli(config, "actions", "reject", "--account", account, "--reason", "not now", "--today",
                   TODAY.isoformat())
    assert rejected.exit_code == 0, rejected.output
    assert all(a["state"] == "rejected" for a in actions(config) if a["id"] in chosen)


def test_approve_needs_ids_or_a_filter_not_both(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    neither = cli(config, "actions", "approve")
    both = cli(config, "actions", "approve", "7", "--kind", "pause")
    assert neither.exit_code == 2 and "name the action ids" in neither.output
    assert both.exit_code == 2 and "not both" in both.output
