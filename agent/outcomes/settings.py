"""The `outcomes:` section of the config: how CRM stages are attributed and reported."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from agent.auth.tokens import secret_problem
from policies.settings import StrictModel

STAGES = ("lead", "mql", "sql", "opportunity", "won", "lost")
FUNNEL = ("lead", "mql", "sql", "opportunity", "won")  # `lost` ends a record, it is not a step up
PLACEHOLDER = re.compile(r"\{(campaign_id|ad_set_id)\}")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


ConsentLevel = Literal["granted", "denied", "unspecified"]


class UploadSettings(StrictModel):
    """Where one account's qualified CRM stages are sent back (docs/outcomes.md, "Sending outcomes back")."""

    stages: dict[str, str] = Field(
        description="stage -> Google conversion action id, Meta event name, or LinkedIn conversion rule urn")
    dataset_id: str | None = Field(default=None, pattern=r"^\d+$", description="Meta: the dataset (pixel) id")
    use_click_conversions: bool = Field(
        default=False, description="Google: upload through the Google Ads API (allowlisted developer tokens only)")
    ad_user_data: ConsentLevel = Field(default="unspecified", description="EEA consent sent when the CRM has none")
    ad_personalization: ConsentLevel = "unspecified"

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(FUNNEL))
        if unknown:
            raise ValueError(f"unknown stage {unknown[0]!r}: one of {', '.join(FUNNEL)}")
        return value


class OutcomeSettings(StrictModel):
    """Attribution (last paid touch) and reporting of imported CRM outcomes."""

    qualified_stage: str = Field(default="sql", description="the stage that makes a lead 'qualified' (CPQL)")
    attribution_window_days: int = Field(
        default=90, ge=1, le=400, description="a click counts for a lead created at most this many days later")
    utm_templates: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="per account id: the UTM parameters its ads' URLs carry, e.g. "
                    "{utm_source: linkedin, utm_campaign: '{campaign_id}', utm_content: '{ad_set_id}'}")
    webhook_secret: SecretStr | None = Field(
        default=None, description="signs POST /outcomes deliveries (HMAC-SHA256, see docs/outcomes.md)")
    uploads: dict[str, UploadSettings] = Field(
        default_factory=dict, description="per account id: the stages uploaded as offline conversions")

    @field_validator("qualified_stage")
    @classmethod
    def _known_stage(cls, value: str) -> str:
        if value not in FUNNEL:
            raise ValueError(f"unknown stage {value!r}: one of {', '.join(FUNNEL)}")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        problem = None if value is None else secret_problem(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("utm_templates")
    @classmethod
    def _utm_keys(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for account_id, template in value.items():
            unknown = sorted(set(template) - set(UTM_FIELDS))
            if unknown:
                raise ValueError(f"{account_id}: unknown UTM parameter {unknown[0]!r} (one of {', '.join(UTM_FIELDS)})")
            for field, pattern in template.items():
                if len(PLACEHOLDER.findall(pattern)) > 1:
                    raise ValueError(f"{account_id}.{field}: at most one placeholder per parameter")
        return value


UPLOAD_PLATFORMS = ("google_ads", "meta", "linkedin")
_DESTINATION = {"google_ads": (re.compile(r"^\d+$"), "a conversion action id (digits)"),
                "meta": (re.compile(r"^\S.{0,49}$"), "an event name"),
                "linkedin": (re.compile(r"^urn:lla:llaPartnerConversion:\d+$"),
                             "a conversion rule urn (urn:lla:llaPartnerConversion:N)")}


def upload_problems(uploads: dict[str, UploadSettings], platforms: dict[str, str]) -> list[str]:
    """What is wrong with `outcomes.uploads` for the configured accounts (account id -> platform)."""
    problems = []
    for account_id, settings in uploads.items():
        platform = platforms.get(account_id)
        where = f"outcomes.uploads.{account_id}"
        if platform is None:
            problems.append(f"{where}: no such account")
        elif platform not in UPLOAD_PLATFORMS:
            problems.append(f"{where}: {platform} accounts cannot receive offline conversions "
                            f"(one of {', '.join(UPLOAD_PLATFORMS)})")
        else:
            pattern, meaning = _DESTINATION[platform]
            problems += [f"{where}.stages.{stage}: {value!r} is not {meaning}"
                         for stage, value in settings.stages.items() if not pattern.match(value)]
            if platform == "meta" and not settings.dataset_id:
                problems.append(f"{where}: dataset_id (the Meta pixel id) is required")
    return problems
