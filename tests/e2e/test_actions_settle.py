"""`actions settle`: a person ends an outcome the agent could not tell (`unknown`) after checking the
platform; nothing is sent, the audit trail says who and why, and no other state can be settled."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine

from agent.storage.action_states import transition
from tests.e2e.test_actions_cli import actions, cli, first_pending_pause, world
from tests.e2e.test_cli import TODAY, run_once, write_config

NOW = datetime(2026, 11, 23, 13, tzinfo=UTC)


def left_unknown(config: Path) -> int:
    """A pending pause taken through approval and a write whose answer was lost."""
    action = first_pending_pause(config)
    engine = create_engine(yaml.safe_load(config.read_text())["database_url"])
    try:
        with engine.begin() as connection:
            for state in ("approved", "executing", "unknown"):
                transition(connection, action["id"], state, actor="test", reason="answer lost", now=NOW)
    finally:
        engine.dispose()
    return int(action["id"])


@pytest.mark.parametrize("state", ["executed", "failed"])
def test_a_person_settles_an_unknown_outcome_and_nothing_is_sent(tmp_path: Path, database_url: str,
                                                                  state: str) -> None:
    config = write_config(tmp_path, database_url)
    run_once(config, TODAY)
    action_id = left_unknown(config)
    before = world(config)
    result = cli(config, "actions", "settle", str(action_id), "--as", state, "--by", "ana",
                 "--reason", "checked the ad set in Ads Manager", "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    assert f"action {action_id} settled as {state}" in result.output
    assert world(config) == before  # settling changes our record only
    shown = json.loads(cli(config, "actions", "show", str(action_id), "--json").output)
    assert shown["state"] == state
    settled = shown["history"][-1]
    assert settled["actor"] == "cli:ana" and "checked the ad set in Ads Manager" in settled["message"]
    assert not [a for a in actions(config, "unknown") if a["id"] == action_id]


def test_only_an_unknown_outcome_is_settled_by_hand(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    run_once(config, TODAY)
    pending = first_pending_pause(config)
    result = cli(config, "actions", "settle", str(pending["id"]), "--as", "executed", "--reason", "x")
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: action {pending['id']} is pending_approval; only an unknown outcome "
                                     "is settled by hand")
    missing = cli(config, "actions", "settle", "99999", "--as", "failed", "--reason", "x")
    assert missing.exit_code == 2 and "no action with id 99999" in missing.output
