"""The `approvals:` section: email reply authentication fails closed unless the operator opts out by name."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import parse_config
from agent.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"
EMAIL = {"from_address": "agent@agency.example", "reply_address": "approvals@agency.example",
         "smtp": {"host": "smtp.agency.example"},
         "imap": {"host": "imap.agency.example", "username": "approvals", "password": "x"}}


def with_email(**email: Any) -> dict[str, Any]:
    raw = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    raw["approvals"] = {"email": {**EMAIL, **email}, "default": {"email_approvers": ["lead@agency.example"]}}
    return raw


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, environ={})
    return caught.value.problems


def test_email_approvals_need_a_trusted_authserv_id_by_default() -> None:
    [problem] = problems(with_email())
    assert problem.startswith("approvals.email: trusted_authserv_id is required")
    assert "insecure_accept_unauthenticated_replies" in problem


def test_require_dkim_false_no_longer_turns_authentication_off() -> None:
    [problem] = problems(with_email(require_dkim=False, trusted_authserv_id="mx.agency.example"))
    assert "insecure_accept_unauthenticated_replies: true" in problem


def test_a_trusted_relay_is_enough_and_warns_nothing() -> None:
    config = parse_config(with_email(trusted_authserv_id="mx.agency.example", require_dkim=True), environ={})
    assert config.approvals.warnings() == []


def test_the_explicit_opt_out_is_valid_but_warned_about() -> None:
    config = parse_config(with_email(insecure_accept_unauthenticated_replies=True), environ={})
    [warning] = config.approvals.warnings()
    assert "insecure_accept_unauthenticated_replies" in warning and "forge" in warning
