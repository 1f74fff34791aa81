"""`users add|list|remove` and `config check` on the authentication settings, through the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from click.testing import CliRunner, Result

from agent.auth.users import authenticate
from agent.cli import main
from tests.integration.conftest import small_config

PASSWORD = "a long enough passphrase"


def write_config(tmp_path: Path, **service: Any) -> Path:
    raw = small_config(f"sqlite:///{tmp_path / 'agent.db'}", service=service)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, env=env, catch_exceptions=False)


def test_config_check_refuses_an_empty_or_short_token(tmp_path: Path) -> None:
    config = write_config(tmp_path, host="0.0.0.0", api_tokens={"prometheus": "${PROM_TOKEN}"})
    for value in ("", "0123456789abcdef"):
        result = cli("config", "check", "--config", str(config), env={"PROM_TOKEN": value})
        assert result.exit_code == 2, result.output
        assert "api_tokens.prometheus is " in result.output
        assert "Traceback" not in result.output


def test_config_check_warns_about_insecure_no_auth(tmp_path: Path) -> None:
    result = cli("config", "check", "--config", str(write_config(tmp_path, insecure_no_auth=True)))
    assert result.exit_code == 0
    assert "warning: service.insecure_no_auth is true" in result.output


def test_users_add_list_remove(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    added = cli("users", "add", "Alice@Example.com", "--role", "approver", "--account", "shop-meta",
                "--config", config, stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "added alice@example.com as approver of shop-meta" in added.output
    assert "session_secret is not set" in added.output
    assert PASSWORD not in added.output
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'agent.db'}")
    try:
        with engine.connect() as connection:
            [stored] = connection.execute(sa.text("SELECT password_hash FROM users")).scalars()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert authenticate(engine, "alice@example.com", PASSWORD) is not None
    finally:
        engine.dispose()
    listed = cli("users", "list", "--config", config)
    assert "alice@example.com" in listed.output and "approver" in listed.output and "$argon2" not in listed.output
    assert cli("users", "remove", "alice@example.com", "--config", config).exit_code == 0
    assert "alice@example.com" not in cli("users", "list", "--config", config).output


def test_users_add_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    cases = [
        (("users", "add", "bob@example.com", "--role", "viewer"), "short", "password is too short"),
        (("users", "add", "not-an-email", "--role", "viewer"), PASSWORD, "is not an email address"),
        (("users", "add", "bob@example.com", "--role", "viewer", "--account", "nope"), PASSWORD, "unknown account"),
        (("users", "remove", "nobody@example.com"), None, "there is no user nobody@example.com"),
    ]
    for args, stdin, message in cases:
        result = cli(*args, "--config", config, stdin=None if stdin is None else stdin + "\n")
        assert result.exit_code == 2, result.output
        assert message in result.output
    assert cli("users", "add", "bob@example.com", "--role", "viewer", "--config", config,
               stdin=PASSWORD + "\n").exit_code == 0
    again = cli("users", "add", "bob@example.com", "--role", "admin", "--config", config, stdin=PASSWORD + "\n")
    assert again.exit_code == 2 and "already exists" in again.output
