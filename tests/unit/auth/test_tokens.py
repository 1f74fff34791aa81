"""Bearer tokens and signing secrets: long random values only, compared in constant time."""

from __future__ import annotations

import pytest

from agent.auth.tokens import bearer_of, matching_token, new_secret, secret_problem

GOOD = new_secret()


@pytest.mark.parametrize(("value", "why"), [("", "empty"), ("   ", "empty"), ("changeme", "too short"),
                                            ("x" * 42, "too short"), ("ab" * 40, "not random")])
def test_empty_short_and_repetitive_secrets_are_refused(value: str, why: str) -> None:
    problem = secret_problem(value)
    assert problem is not None and why in problem
    if value.strip():
        assert value not in problem  # the message never repeats the secret


def test_32_random_bytes_are_accepted_in_base64_and_hex() -> None:
    assert secret_problem(GOOD) is None
    assert secret_problem("4f0c9a1be27d3568" * 4) is None  # `openssl rand -hex 32`


def test_bearer_header_parsing() -> None:
    assert bearer_of(f"Bearer {GOOD}") == GOOD
    assert bearer_of(f"bearer  {GOOD} ") == GOOD
    assert bearer_of(f"Basic {GOOD}") is None
    assert bearer_of("Bearer ") is None and bearer_of(None) is None


def test_matching_token_names_the_token_and_refuses_prefixes() -> None:
    other = new_secret()
    tokens = {"prometheus": GOOD, "scripts": other}
    assert matching_token(GOOD, tokens) == "prometheus"
    assert matching_token(other, tokens) == "scripts"
    assert matching_token(GOOD[:-1], tokens) is None
    assert matching_token("", tokens) is None
    assert matching_token("", {}) is None
    assert matching_token("\udcff\u00e9", tokens) is None  # odd text is a mismatch, not an exception
