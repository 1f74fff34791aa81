"""Secrets never reach the logs, whichever logger prints them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from agent import logs
from agent.config import parse_config

SECRET = "xoxb-SUPER-SECRET-123"
DB_PASSWORD = "pg-pass-987"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def config_with_secrets() -> object:
    return parse_config({
        "database_url": f"postgresql+psycopg://agent:{DB_PASSWORD}@db.example/agent",
        "accounts": [{"id": "a", "platform": "simulator", "simulate": "meta",
                      "credentials": {"token": "${TOKEN}"}}],
    }, environ={"TOKEN": SECRET})


def test_redaction_covers_our_logs_library_logs_and_exceptions() -> None:
    stream = io.StringIO()
    logs.configure(config_with_secrets(), fmt="json", stream=stream)  # type: ignore[arg-type]
    logging.getLogger("some.library").warning("connecting with token %s", SECRET)
    structlog.get_logger("agent.test").info("cycle.pull", account="a", url=f"https://x/?access_token={SECRET}",
                                            nested={"dsn": f"postgresql://agent:{DB_PASSWORD}@db"})
    try:
        raise RuntimeError(f"auth failed for {SECRET}")
    except RuntimeError:
        logging.getLogger("agent.cycle.run").exception("cycle.account_failed", extra={"account": "a"})
    output = stream.getvalue()
    assert SECRET not in output and DB_PASSWORD not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["event"] == "connecting with token ***"
    assert lines[1]["nested"] == {"dsn": "postgresql://agent:***@db"} and lines[1]["account"] == "a"
    assert "auth failed for ***" in lines[2]["exception"]


def test_console_format_on_a_terminal_and_json_elsewhere() -> None:
    stream = io.StringIO()
    logs.configure(None, fmt="auto", stream=stream)
    logging.getLogger("x").warning("plain line")
    assert json.loads(stream.getvalue())["event"] == "plain line"  # StringIO is not a terminal
