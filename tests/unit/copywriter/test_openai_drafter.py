"""The real openai SDK against a local fake server: structured output, retries, malformed answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from agent.copywriter.drafter_choice import make_drafter
from agent.copywriter.drafting import DraftRequest
from agent.copywriter.history import ad_set_context
from agent.copywriter.limits import limits_for
from agent.copywriter.offline import OfflineDrafter
from agent.copywriter.openai_drafter import OpenAIDrafter
from agent.copywriter.settings import BrandSettings, CopywriterSettings, OpenAISettings
from tests.fakes.openai_server import FakeOpenAI, content, delayed, error, variants
from tests.unit.copywriter.account import account

GOOD = {"headlines": ["Running Jacket — 20% off"], "descriptions": ["Rated 4.8 by 12k runners. Shop today."],
        "call_to_action": "SHOP_NOW"}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


def request(count: int = 2) -> DraftRequest:
    snapshot, _ = account()
    context = ad_set_context(snapshot, snapshot.entities["s2"])
    return DraftRequest("meta", limits_for("meta"), context, BrandSettings(name="Stride Supply", rules=["No slang."]),
                        [], [], count, "creative fatigue")


def drafter(fake: FakeOpenAI, sleeps: list[float], **overrides: object) -> OpenAIDrafter:
    values: dict[str, object] = {"api_key": SecretStr("sk-test-secret"), "base_url": fake.base_url,
                                 "model": "test-model", "temperature": 0.4, "timeout_seconds": 2.0,
                                 "retry_initial_seconds": 0.01, "retry_max_seconds": 0.05, **overrides}
    settings = OpenAISettings.model_validate(values)
    return OpenAIDrafter(settings, sleep=sleeps.append)


def test_structured_request_and_labelled_variants(fake: FakeOpenAI) -> None:
    fake.script = [variants(GOOD, {**GOOD, "headlines": ["Stay dry on every run"]})]
    result = drafter(fake, []).draft(request())
    assert [v.headlines[0] for v in result.variants] == ["Running Jacket — 20% off", "Stay dry on every run"]
    assert {v.drafter for v in result.variants} == {"openai:test-model"}
    assert result.variants[0].call_to_action == "SHOP_NOW" and not result.errors
    sent = fake.requests[0]
    assert sent["model"] == "test-model" and sent["temperature"] == 0.4
    schema = sent["response_format"]
    assert schema["type"] == "json_schema" and schema["json_schema"]["strict"] is True
    variant_schema = schema["json_schema"]["schema"]["properties"]["variants"]
    assert variant_schema["maxItems"] == 2
    assert variant_schema["items"]["properties"]["call_to_action"]["enum"][0] == "SHOP_NOW"
    system, user = sent["messages"][0]["content"], json.loads(sent["messages"][1]["content"])
    assert "Stride Supply" in system and "No slang." in system and "40 characters" in system
    assert user["ad_set"]["theme"] == "running jacket" and user["why_new_copy"] == "creative fatigue"


def test_malformed_output_is_retried_once(fake: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    fake.script = [content("{not json"), variants(GOOD)]
    with caplog.at_level(logging.WARNING):
        result = drafter(fake, []).draft(request())
    assert len(result.variants) == 1 and result.malformed_responses == 1
    assert "malformed model output" in caplog.text and "asking once more" in caplog.text


def test_malformed_twice_skips_the_ad_set_with_a_clear_log_line(fake: FakeOpenAI,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    fake.script = [content(json.dumps({"variants": [{"headline": "wrong shape"}]})),
                   content('{"variants": []', finish_reason="length")]
    with caplog.at_level(logging.WARNING):
        result = drafter(fake, []).draft(request())
    assert result.variants == [] and result.malformed_responses == 2
    assert "malformed model output twice; skipped" in result.errors[0]
    assert "ad set skipped this cycle" in caplog.text and len(fake.requests) == 2


def test_a_refusal_counts_as_malformed(fake: FakeOpenAI) -> None:
    fake.script = [content(None, refusal="I can't help with that."), variants(GOOD)]
    assert len(drafter(fake, []).draft(request()).variants) == 1


def test_rate_limit_then_success_backs_off_and_honours_retry_after(fake: FakeOpenAI) -> None:
    fake.script = [error(429, retry_after="0.02"), variants(GOOD)]
    sleeps: list[float] = []
    result = drafter(fake, sleeps).draft(request())
    assert len(result.variants) == 1 and len(fake.requests) == 2
    assert len(sleeps) == 1 and sleeps[0] >= 0.02


def test_server_errors_are_retried_then_given_up_without_raising(fake: FakeOpenAI) -> None:
    fake.script = [error(503)]
    sleeps: list[float] = []
    result = drafter(fake, sleeps, max_attempts=3).draft(request())
    assert result.variants == [] and len(fake.requests) == 3 and len(sleeps) == 2
    assert "gave up after 3 attempt(s)" in result.errors[0]
    assert "sk-test-secret" not in result.errors[0]


def test_a_timeout_is_retried(fake: FakeOpenAI) -> None:
    fake.script = [delayed(1.0, variants(GOOD)), variants(GOOD)]
    result = drafter(fake, [], timeout_seconds=0.2).draft(request())
    assert len(result.variants) == 1 and len(fake.requests) == 2


@pytest.mark.parametrize(("reply", "words"), [(error(401), "credentials"), (error(429, code="insufficient_quota"),
                                                                            "billing")])
def test_final_errors_are_not_retried(fake: FakeOpenAI, reply: object, words: str) -> None:
    fake.script = [reply]  # type: ignore[list-item]
    sleeps: list[float] = []
    result = drafter(fake, sleeps).draft(request())
    assert result.variants == [] and len(fake.requests) == 1 and sleeps == []
    assert words in result.errors[0]


def test_offline_is_the_default_without_a_key() -> None:
    assert isinstance(make_drafter(CopywriterSettings()), OfflineDrafter)
    assert isinstance(make_drafter(CopywriterSettings(drafter="openai")), OfflineDrafter)  # no key: still offline
    keyed = CopywriterSettings(openai=OpenAISettings(api_key=SecretStr("sk-x"), base_url="http://127.0.0.1:9/v1"))
    assert isinstance(make_drafter(keyed), OpenAIDrafter)
    assert isinstance(make_drafter(keyed.model_copy(update={"drafter": "offline"})), OfflineDrafter)
