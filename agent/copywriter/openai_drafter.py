"""Drafting with a language model: OpenAI chat completions with a strict JSON-schema response.

Transient failures (429, 5xx, timeouts, dropped connections) are retried with back-off through
the connectors' shared tenacity policy, honouring `Retry-After`. A malformed answer (not JSON, not
the schema, refused, cut off) is asked for once more, then the ad set is skipped with a log line;
nothing here raises into the cycle.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict, ValidationError

from agent.copywriter.drafting import DraftRequest, DraftResult, Variant
from agent.copywriter.prompt import build_messages, response_format
from agent.copywriter.settings import OpenAISettings
from agent.errors import MalformedOutput
from connectors.errors import PlatformError
from connectors.retry import Classified, RetryPolicy, Sleep, call_with_retry

log = logging.getLogger(__name__)


class _VariantPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    headlines: list[str]
    descriptions: list[str]
    call_to_action: str | None = None
    rationale: str = ""


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variants: list[_VariantPayload]


def classify(error: BaseException) -> Classified | None:
    """Which OpenAI errors are worth retrying (rate limits, server errors, timeouts)."""
    if isinstance(error, openai.APITimeoutError):
        return Classified("transient", "request timed out")
    if isinstance(error, openai.APIConnectionError):
        return Classified("transient", f"connection failed: {error}")
    if isinstance(error, openai.RateLimitError):
        body = error.body if isinstance(error.body, dict) else {}
        if body.get("code") == "insufficient_quota":  # billing, not pace: waiting cannot fix it
            return Classified("invalid", "insufficient quota (check the OpenAI account's billing)")
        retry_after = error.response.headers.get("retry-after")
        try:
            hint = float(retry_after) if retry_after else None
        except ValueError:
            hint = None
        return Classified("transient", "rate limited (429)", retry_after=hint, rate_limited=True)
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return Classified("auth", f"credentials refused ({error.status_code})")
    if isinstance(error, openai.APIStatusError):
        if error.status_code >= 500:
            return Classified("transient", f"server error {error.status_code}")
        return Classified("invalid", f"request refused ({error.status_code}): {error.message}")
    return None


def parse_variants(content: str | None, request: DraftRequest, label: str) -> list[Variant]:
    """The variants in a response body; raises MalformedOutput if it is not what was asked for."""
    if not content:
        raise MalformedOutput("empty response")
    try:
        payload = _Payload.model_validate(json.loads(content))
    except (json.JSONDecodeError, ValidationError) as error:
        raise MalformedOutput(f"not the requested JSON: {str(error).splitlines()[0]}") from None
    if not payload.variants:
        raise MalformedOutput("no variants in the response")
    return [Variant(tuple(v.headlines), tuple(v.descriptions), v.call_to_action, label, v.rationale[:300])
            for v in payload.variants[: request.count]]


class OpenAIDrafter:
    """Variants from an OpenAI (or compatible) chat model."""

    def __init__(self, settings: OpenAISettings, client: openai.OpenAI | None = None,
                 sleep: Sleep | None = None) -> None:
        self.settings = settings
        self.label = f"openai:{settings.model}"
        key = settings.api_key.get_secret_value() if settings.api_key else ""
        # The SDK's own retries are off: one policy (ours) decides, and counts, every retry.
        self.client = client or openai.OpenAI(api_key=key, base_url=settings.base_url,
                                              timeout=settings.timeout_seconds, max_retries=0)
        self.policy = RetryPolicy(max_attempts=settings.max_attempts, initial_delay=settings.retry_initial_seconds,
                                  max_delay=settings.retry_max_seconds,
                                  max_total_wait=settings.retry_max_seconds * settings.max_attempts)
        if sleep is not None:
            self.policy = replace(self.policy, sleep=sleep)
        self._secrets = (key,)

    def _complete(self, messages: list[dict[str, str]], schema: dict[str, Any],
                  account_id: str) -> tuple[str | None, str]:
        def call() -> tuple[str | None, str]:
            response = self.client.chat.completions.create(  # type: ignore[call-overload]
                model=self.settings.model, messages=messages, temperature=self.settings.temperature,
                response_format=schema, max_completion_tokens=self.settings.max_completion_tokens,
            )
            choice = response.choices[0]
            if choice.message.refusal:
                return None, f"refused: {choice.message.refusal[:200]}"
            if choice.finish_reason == "length":
                return None, "cut off at max_completion_tokens"
            return choice.message.content, ""

        return call_with_retry(call, policy=self.policy, classify=classify, platform="openai",
                               account_id=account_id, operation="chat.completions", secrets=self._secrets)

    def draft(self, request: DraftRequest) -> DraftResult:
        messages = build_messages(request)
        schema = response_format(request)
        where = f"copywriter {request.context.ad_set.entity_id}"
        malformed = 0
        for attempt in (1, 2):
            try:
                content, problem = self._complete(messages, schema, request.context.ad_set.account_id)
            except PlatformError as error:
                log.warning("%s: OpenAI drafting failed, ad set skipped: %s", where, error)
                return DraftResult([], [f"{where}: {error}"], malformed)
            try:
                if problem:
                    raise MalformedOutput(problem)
                return DraftResult(parse_variants(content, request, self.label), [], malformed)
            except MalformedOutput as error:
                malformed += 1
                action = "asking once more" if attempt == 1 else "ad set skipped this cycle"
                log.warning("%s: malformed model output (%s); %s", where, error, action)
        return DraftResult([], [f"{where}: malformed model output twice; skipped"], malformed)

