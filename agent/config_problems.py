"""Configuration problems as people read them: `key.path[index].name: what is wrong`, and the
accounts' connector fields checked against each connector's spec (`connectors/account_spec.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from connectors.registry import load_spec


def format_location(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def describe_error(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config.example.yaml)"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif "input" in error and error["type"] not in ("model_type", "dict_type", "value_error"):
        message = f"{message} (got {error['input']!r})"
    return message


def connector_field_problems(accounts: Any) -> list[str]:
    """Each account's fields checked against its connector's spec: one line per problem, naming the
    account (`accounts[i].field: <platform> account '<id>': ...`). Accounts of a platform whose
    connector declares no spec, or is not installed, are not checked here."""
    problems: list[str] = []
    for index, account in enumerate(accounts if isinstance(accounts, list | tuple) else []):
        if not isinstance(account, Mapping) or not isinstance(account.get("platform"), str):
            continue
        spec = load_spec(account["platform"])
        if spec is None:
            continue
        try:
            spec.model_validate(account)
        except ValidationError as error:
            name = f"{account['platform']} account {account.get('id')!r}"
            problems += [f"accounts[{index}].{format_location(e['loc'])}: {name}: {describe_error(e)}"
                         for e in error.errors()]
    return problems
