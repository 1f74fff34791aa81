"""Copywriter settings: brand voice and rules, the drafter, the CTR model, and what triggers drafts.

The OpenAI key is a `SecretStr` (write `${OPENAI_API_KEY}` in the YAML). With no key, or with
`drafter: offline`, the deterministic offline drafter is used and nothing leaves the machine.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from policies.settings import StrictModel

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


class BrandSettings(StrictModel):
    """What every variant must respect, whoever drafted it."""

    name: str = Field(default="", description="Brand name; when set, its spelling is enforced (see spellings).")
    voice: str = Field(
        default="Clear, concrete and friendly. Lead with the benefit; no hype.",
        description="Brand voice, given to the language model as written.",
    )
    rules: list[str] = Field(default_factory=list, description="Extra copy rules for the model, one per line.")
    banned_words: list[str] = Field(
        default_factory=list, description="Words or phrases never to use (whole words, case-insensitive).",
    )
    banned_claims: list[str] = Field(
        default_factory=lambda: [r"\bguarantee[sd]?\b", r"#1\b|\bnumber one\b", r"\bcures?\b", r"\brisk[- ]free\b"],
        description="Regular expressions (case-insensitive) for claims legal has not cleared.",
    )
    required_spellings: list[str] = Field(
        default_factory=list,
        description="Names that must appear exactly so when they appear at all (e.g. 'iPhone', 'LinkedIn').",
    )

    @model_validator(mode="after")
    def _claims_compile(self) -> BrandSettings:
        for pattern in self.banned_claims:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"banned_claims: {pattern!r} is not a valid regex: {error}") from None
        return self

    @property
    def spellings(self) -> list[str]:
        return [s for s in ([self.name] if self.name else []) + self.required_spellings if s.strip()]


class OpenAISettings(StrictModel):
    """The language-model drafter (chat completions with a JSON-schema response format)."""

    api_key: SecretStr | None = Field(default=None, description="${OPENAI_API_KEY}; none: offline drafter.")
    base_url: str | None = Field(default=None, description="Another OpenAI-compatible endpoint (or a test server).")
    model: str = Field(default="gpt-4o-mini", min_length=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    timeout_seconds: float = Field(default=30.0, gt=0, description="One request; a timeout is retried.")
    max_attempts: int = Field(default=4, ge=1, le=10, description="Tries per request on 429, 5xx and timeouts.")
    retry_initial_seconds: float = Field(default=1.0, ge=0, description="First back-off; doubles per retry.")
    retry_max_seconds: float = Field(default=30.0, ge=0)
    max_completion_tokens: int = Field(default=2000, ge=100)


def _language_code(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip()
    if not LANGUAGE_CODE.match(code):
        raise ValueError(f"{value!r} is not a language code such as en, de, fr, es, ja or pt-BR")
    return code


class CopySegment(StrictModel):
    """A segment the copywriter drafts its own variants for (docs/copy.md, "Copy per segment").

    With `dimension` and `segment` (a breakdown such as `age` / `18-24`, docs/segments.md) the
    drafts are for ad sets that deliver to it, its CTR is predicted from the ad set's delivery in
    that segment, and the offline drafter learns from ads' performance within it where the stored
    breakdowns are per ad. Without them (a CRM segment, "existing customers"), only the description
    and language steer the drafts.
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.+-]*$",
                      description="Short name, shown in proposals.")
    description: str = Field(min_length=3, max_length=500,
                             description="Who the segment is and what they care about; given to the model.")
    dimension: str | None = Field(default=None, description="Breakdown dimension (device, age, placement, ...).")
    segment: str | list[str] | None = Field(
        default=None, description="Breakdown segment in our names (mobile, 18-24, ...), or a list of them.",
    )
    language: str | None = Field(default=None, description="Language of this segment's drafts; default: the account's.")
    min_spend_share: float = Field(
        default=0.05, ge=0, lt=1, description="An ad set gets this segment's copy when it spends this share in it.",
    )

    @field_validator("language")
    @classmethod
    def _known_language_form(cls, value: str | None) -> str | None:
        return _language_code(value)

    @model_validator(mode="after")
    def _both_or_neither(self) -> CopySegment:
        if (self.dimension is None) != (self.segment is None) or self.segment == []:
            raise ValueError("give both dimension and segment (e.g. age and 18-24), or neither")
        return self

    @property
    def segment_values(self) -> frozenset[str]:
        """The breakdown segments this copy segment covers (empty without a breakdown)."""
        if self.segment is None:
            return frozenset()
        return frozenset([self.segment] if isinstance(self.segment, str) else self.segment)

    @property
    def segment_label(self) -> str | None:
        """`mobile`, or `18-24+25-34` for several."""
        return "+".join(sorted(self.segment_values)) or None


class CopywriterSettings(StrictModel):
    """New ad copy for ad sets whose creative has tired or whose CTR lags the account."""

    enabled: bool = True
    drafter: Literal["auto", "openai", "offline"] = Field(
        default="auto", description="auto: OpenAI when an api_key is set, else offline.",
    )
    variants_per_ad_set: int = Field(default=3, ge=1, le=10, description="Variants requested per ad set (N).")
    max_proposals_per_ad_set: int = Field(default=2, ge=1, le=10, description="Best valid variants proposed.")
    max_ad_sets_per_cycle: int = Field(default=10, ge=1, description="Drafting is bounded per account and cycle.")
    brand: BrandSettings = BrandSettings()
    openai: OpenAISettings = OpenAISettings()
    enforce_recommended_limits: bool = Field(
        default=True, description="Treat Meta/LinkedIn recommended lengths as limits (truncation otherwise).",
    )
    max_similarity: float = Field(
        default=0.85, gt=0, le=1, description="Drafts at least this similar to an existing or sibling ad are dropped.",
    )
    # What triggers drafting besides a refresh_creative proposal.
    low_ctr_ratio: float = Field(
        default=0.7, gt=0, lt=1, description="An ad set whose CTR is below this share of its peers' gets new copy.",
    )
    low_ctr_window_days: int = Field(default=14, ge=3, le=90)
    draft_period_hours: float = Field(
        default=24, ge=0, le=24 * 90,
        description="An ad set gets new copy at most once in this period, whatever came of it (0: every cycle).",
    )
    low_ctr_min_impressions: int = Field(default=5000, ge=0, description="Window impressions before judging CTR.")
    # History behind patterns and the CTR model.
    fresh_days: int = Field(
        default=14, ge=3, le=60,
        description="An ad's first days of delivery give its CTR (before frequency tires it).",
    )
    min_ad_impressions: int = Field(default=1000, ge=1, description="Ads with fewer fresh impressions are not learnt from.")
    pattern_min_ads: int = Field(default=3, ge=2, description="A pattern needs this many ads on each side.")
    pattern_min_z: float = Field(default=2.0, gt=0, description="Evidence (|z|) a pattern needs to be reported.")
    ctr_model: Literal["empirical_bayes", "ridge", "baseline"] = Field(
        default="empirical_bayes", description="empirical_bayes predicted new copy best (docs/copy.md).",
    )
    interval: float = Field(default=0.8, gt=0.5, lt=1, description="Coverage of the predicted-CTR interval.")
    min_predicted_lift: float = Field(
        default=0.0, ge=-1, description="Propose only variants whose predicted CTR beats the ad set's by this share.",
    )
    language: str | None = Field(
        default=None, description="Language of the drafts (en, de, fr, es, ja ...); default: that of the account's ads.",
    )
    segments: list[CopySegment] = Field(
        default_factory=list, description="Segments that get their own copy, besides the ad set's general copy.",
    )
    segment_window_days: int = Field(default=28, ge=7, le=90, description="Breakdown days read for segment copy.")

    @field_validator("language")
    @classmethod
    def _known_language_form(cls, value: str | None) -> str | None:
        return _language_code(value)

    @model_validator(mode="after")
    def _unique_segments(self) -> CopywriterSettings:
        names = [segment.name for segment in self.segments]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"segments: the name {duplicated[0]!r} is used twice")
        return self
