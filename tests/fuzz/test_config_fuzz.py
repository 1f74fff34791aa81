"""The config loader never raises anything but ConfigError, whatever the file holds."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from agent.config import load_config, parse_config
from agent.errors import ConfigError
from tests.fuzz.settings import bounded

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"
EXAMPLE_RAW = yaml.safe_load(EXAMPLE.read_text())

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                    st.sampled_from(["${UNSET_VARIABLE}", "auto", "pasue", "-1e400", "Europe/Pariss", "0x10",
                                     "2026-13-45", "99999999999999999999999", "\x00", "${}"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


EXAMPLE_PATHS = paths(EXAMPLE_RAW)


def replaced(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(EXAMPLE_RAW)
    node = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return raw


@bounded
@given(st.sampled_from(EXAMPLE_PATHS), values)
@example(("accounts", 0, "permissions"), {"pasue": "auto"})
@example(("lookback_days",), 10**400)
@example(("accounts", 0, "monthly_budget"), "NaN")
def test_any_value_anywhere_in_the_example_is_accepted_or_a_config_error(path: tuple[Any, ...], value: Any) -> None:
    try:
        parse_config(replaced(path, value), environ={})
    except ConfigError as error:
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)


@bounded
@given(values)
def test_any_document_is_accepted_or_a_config_error(document: Any) -> None:
    try:
        parse_config(document, environ={})
    except ConfigError as error:
        assert error.problems


@bounded
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))))
@example(b"\xff\xfe: a")
@example(b"accounts: [&a [*a]]")
@example(b"!!python/object:os.system {}")
def test_any_file_is_loaded_or_a_config_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "config.yaml"
        path.write_bytes(content)
        try:
            load_config(path, environ={})
        except ConfigError as error:
            assert error.problems
