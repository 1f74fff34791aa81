"""The `service:` authentication settings: empty or short secrets are configuration errors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.auth.checks import auth_warnings
from agent.auth.tokens import new_secret
from agent.config import parse_config
from agent.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.yaml"


def with_service(**service: Any) -> dict[str, Any]:
    raw = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    raw["service"] = {**raw.get("service", {}), **service}
    return raw


def example_environ() -> dict[str, str]:
    return {"PROM_TOKEN": new_secret(), "SESSION_SECRET": new_secret()}


def problems(raw: dict[str, Any], environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, environ=environ)
    return caught.value.problems


@pytest.mark.parametrize("key", ["dashboard_token", "session_secret"])
@pytest.mark.parametrize("value", ["", "short-but-not-empty"])
def test_an_empty_or_short_secret_is_an_error(key: str, value: str) -> None:
    raw = with_service(host="0.0.0.0", **{key: "${SECRET}"})
    [problem] = problems(raw, {**example_environ(), "SECRET": value})
    assert problem.startswith(f"service: {key} is ") and ("empty" in problem or "too short" in problem)
    if value:
        assert value not in problem


def test_an_empty_api_token_is_named_and_never_printed() -> None:
    short = "x1y2z3" * 5
    raw = with_service(api_tokens={"prometheus": "${EMPTY}", "scripts": short})
    [problem] = problems(raw, {**example_environ(), "EMPTY": ""})
    assert "api_tokens.prometheus is empty" in problem and "api_tokens.scripts is too short" in problem
    assert short not in problem


def test_long_random_secrets_are_accepted() -> None:
    config = parse_config(with_service(host="0.0.0.0", api_tokens={"prometheus": new_secret()},
                                       session_secret=new_secret()), environ=example_environ())
    assert set(config.service.api_tokens) == {"prometheus"}
    assert auth_warnings(config.service) == []


def test_insecure_and_deprecated_settings_are_warned_about() -> None:
    config = parse_config(with_service(insecure_no_auth=True, dashboard_token=new_secret()),
                          environ=example_environ())
    warnings = auth_warnings(config.service)
    assert any("insecure_no_auth is true" in w and "WITHOUT authentication" in w for w in warnings)
    assert any("dashboard_token is deprecated" in w for w in warnings)
