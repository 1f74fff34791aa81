"""Bad input on the command line: one line naming the problem, exit 2, no traceback; and the
silent misbehaviours that are now refused (a misspelt permission, an unknown account, a past --today)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from agent.cli import main
from tests.e2e.test_cli import write_config

TODAY = date(2026, 11, 23)
EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def config_file(tmp_path: Path, database_url: str, **overrides: Any) -> Path:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["database_url"] = database_url
    raw.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_clear_error(result: Result, *fragments: str) -> list[str]:
    """Exit 2, no traceback, each fragment in the message; returns the message's lines."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    return [line for line in result.output.splitlines() if line.strip()]


def test_a_config_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(EXAMPLE.read_bytes().replace(b"# Settings", "# R\u00e9glages".encode("latin-1"), 1))
    for command in (["config", "check"], ["run", "--once"]):
        lines = assert_clear_error(cli(*command, "--config", str(path)), "not UTF-8", "0xe9")
        assert len(lines) == 1


@pytest.mark.parametrize("action_id", ["99999999999999999999", "2147483648", "0"])
@pytest.mark.parametrize("command", ["show", "approve", "reject", "undo"])
def test_an_id_no_action_can_have_is_a_clear_error(tmp_path: Path, database_url: str, command: str,
                                                    action_id: str) -> None:
    config = config_file(tmp_path, database_url)
    assert cli("db", "upgrade", "--config", str(config)).exit_code == 0  # a database without that action
    lines = assert_clear_error(cli("actions", command, action_id, "--config", str(config)),
                               f"no action with id {action_id}")
    assert len(lines) == 1


def test_a_negative_id_is_refused_too(tmp_path: Path, database_url: str) -> None:
    config = config_file(tmp_path, database_url)
    assert cli("db", "upgrade", "--config", str(config)).exit_code == 0  # a database without that action
    assert_clear_error(cli("actions", "show", "--config", str(config), "--", "-5"), "no action with id -5")


def test_a_misspelt_permission_kind_is_an_error_naming_it_and_the_valid_ones(tmp_path: Path,
                                                                            database_url: str) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["accounts"][0]["permissions"] = {"pasue": "auto"}
    config = config_file(tmp_path, database_url, accounts=raw["accounts"])
    [line] = assert_clear_error(cli("config", "check", "--config", str(config)),
                                "accounts[0].permissions", "'pasue'", "pause, enable, set_budget")
    assert line.startswith("error:")


def test_config_check_lists_every_problem_in_the_file_at_once(tmp_path: Path, database_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PMA_UNSET_TOKEN", raising=False)
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["accounts"][0]["credentials"] = {"token": "${PMA_UNSET_TOKEN}"}
    raw["accounts"][0]["timezone"] = "Europe/Pariss"
    raw["accounts"][1]["permissions"] = {"pasue": "auto"}
    raw["accounts"][2]["policies"] = {"underperformers": {"target_roas": -1}}
    config = config_file(tmp_path, database_url, accounts=raw["accounts"], lookback_days=0)
    lines = assert_clear_error(cli("config", "check", "--config", str(config)), "(5 problems)")
    assert sorted(line.strip().split(":")[0] for line in lines[1:]) == [
        "accounts[0].credentials.token", "accounts[0].timezone", "accounts[1].permissions",
        "accounts[2].policies.underperformers.target_roas", "lookback_days"]


def test_connectors_check_of_an_unknown_account_exits_2_naming_it(tmp_path: Path, database_url: str) -> None:
    config = config_file(tmp_path, database_url)
    [line] = assert_clear_error(cli("connectors", "check", "--account", "nope", "--config", str(config)),
                                "unknown account 'nope'", "acme-")
    assert line.startswith("error:")


def test_a_today_before_the_last_cycle_is_refused_unless_replayed(tmp_path: Path, database_url: str) -> None:
    config = config_file(tmp_path, database_url)
    first = cli("run", "--once", "--config", str(config), "--today", TODAY.isoformat())
    assert first.exit_code == 0, first.output
    [line] = assert_clear_error(cli("run", "--once", "--config", str(config), "--today", "2026-11-20"),
                                "--today 2026-11-20 is before the last cycle's day 2026-11-23", "--replay")
    assert line.startswith("error:")
    replay = cli("run", "--once", "--config", str(config), "--today", "2026-11-20", "--replay")
    assert replay.exit_code == 0, replay.output
    again = cli("run", "--once", "--config", str(config), "--today", TODAY.isoformat())
    assert again.exit_code == 0, again.output  # the same day again is not going back


def test_audit_events_carry_the_real_time_and_separately_the_simulated_day(tmp_path: Path,
                                                                         database_url: str) -> None:
    config = config_file(tmp_path, database_url)
    started = datetime.now(UTC)
    result = cli("run", "--once", "--config", str(config), "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    exported = cli("audit", "export", "--config", str(config), "--since", started.date().isoformat())
    assert exported.exit_code == 0, exported.output
    events = [json.loads(line) for line in exported.output.splitlines()]
    assert events and all(e["simulated_day"] == TODAY.isoformat() for e in events)
    written = [datetime.fromisoformat(e["at"]) for e in events]
    assert all((at if at.tzinfo else at.replace(tzinfo=UTC)) >= started for at in written)  # SQLite: naive UTC
    csv = cli("audit", "export", "--format", "csv", "--config", str(config))
    assert csv.output.splitlines()[0].startswith("id,at,simulated_day,event")


def test_config_check_warns_about_unauthenticated_email_replies(tmp_path: Path, database_url: str) -> None:
    approvals = {"email": {"from_address": "agent@agency.example", "reply_address": "approvals@agency.example",
                           "smtp": {"host": "smtp.agency.example"},
                           "imap": {"host": "imap.agency.example", "username": "approvals", "password": "x"},
                           "insecure_accept_unauthenticated_replies": True},
                 "default": {"email_approvers": ["lead@agency.example"]}}
    result = cli("config", "check", "--config", str(config_file(tmp_path, database_url, approvals=approvals)))
    assert result.exit_code == 0, result.output
    assert "warning: approvals.email.insecure_accept_unauthenticated_replies is true" in result.output


@pytest.mark.parametrize("command", [["actions", "list"], ["actions", "show", "1"], ["annotate", "--list"]])
def test_reading_commands_in_a_fresh_folder_create_nothing(tmp_path: Path, command: list[str]) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/agent.db")

    result = cli(*command, "--config", str(config))

    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no database yet" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # no database, no lock file
