"""Structured logs: JSON lines when not on a terminal, readable on one; secrets never printed.

Every record, ours or a library's, passes the redaction processor, which replaces any configured
secret value (tokens, passwords, the database URL's password) with `***` wherever it appears.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from agent.config import AgentConfig

REDACTED = "***"
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words


def secret_values(config: AgentConfig) -> list[str]:
    """Every secret the configuration resolved, longest first (so overlapping ones redact fully)."""
    from sqlalchemy.engine import make_url

    values: list[str] = []
    url = config.database_url.get_secret_value()
    try:
        password = make_url(url).password
    except Exception:  # an unparseable URL is reported elsewhere; still never print it whole
        password = None
    if password:
        values.append(str(password))
    for account in config.accounts:
        values += [secret.get_secret_value() for secret in account.credentials.values()]
    if config.service.dashboard_token is not None:
        values.append(config.service.dashboard_token.get_secret_value())
    values += _extra_secrets(config)
    return sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def _extra_secrets(config: AgentConfig) -> list[str]:
    """Secrets of optional sections (approvals) found by walking the config for SecretStr values."""
    from pydantic import BaseModel, SecretStr

    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, SecretStr):
            found.append(node.get_secret_value())
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(config)
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class Redactor:
    """structlog processor: scrub secret values from every string in the event."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = list(secrets)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._scrub(v) for v in value)
        if isinstance(value, BaseException):
            return redact(f"{type(value).__name__}: {value}", self.secrets)
        return value

    def __call__(self, _logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in list(event):
            event[key] = self._scrub(event[key])
        return event


def configure(config: AgentConfig | None, *, fmt: str = "auto", level: int = logging.INFO,
              stream: Any = None) -> None:
    """Route structlog and the standard library through one redacting pipeline."""
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    redactor = Redactor(secret_values(config) if config is not None else [])
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redactor, renderer],
    ))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
