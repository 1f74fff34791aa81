"""The configuration's sections other than the accounts: permissions, guardrails, the service,
reporting, execution, the simulator and the defaults every account inherits.

Each is a strict pydantic model (an unknown key is an error); `agent/config.py` puts them together
into the whole file's `AgentConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from agent.auth.tokens import secret_problem
from agent.copywriter.settings import CopywriterSettings
from policies.settings import ObjectiveSettings, PolicySettings, StrictModel

PermissionLevel = Literal["observe", "propose", "auto"]


class PermissionSettings(StrictModel):
    """The permission level of each kind of change; a kind not set here falls back to the defaults,
    then to `propose`. Typed, so a misspelt kind is an error instead of a silently ignored key."""

    pause: PermissionLevel | None = None
    enable: PermissionLevel | None = None
    set_budget: PermissionLevel | None = None
    add_negative_keywords: PermissionLevel | None = None
    exclude_audience: PermissionLevel | None = None
    remove_audience_exclusion: PermissionLevel | None = None
    new_ad: PermissionLevel | None = None
    upload_conversions: PermissionLevel | None = None
    sync_audience: PermissionLevel | None = None
    create_lookalike: PermissionLevel | None = None
    add_label: PermissionLevel | None = None
    remove_label: PermissionLevel | None = None
    set_ad_schedule: PermissionLevel | None = None
    set_device_bid_modifier: PermissionLevel | None = None
    exclude_placement: PermissionLevel | None = None
    exclude_company_size: PermissionLevel | None = None
    exclude_seniority: PermissionLevel | None = None
    exclude_industry: PermissionLevel | None = None
    narrow_age_range: PermissionLevel | None = None
    exclude_region: PermissionLevel | None = None
    exclude_age_range: PermissionLevel | None = None
    exclude_gender: PermissionLevel | None = None
    exclude_location: PermissionLevel | None = None
    exclude_job_function: PermissionLevel | None = None
    set_ad_rotation: PermissionLevel | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_kinds(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = [str(k) for k in data if k not in cls.model_fields]
            if unknown:
                raise ValueError(f"unknown action kind {', '.join(map(repr, unknown))}; the kinds are "
                                 f"{', '.join(cls.model_fields)}")
        return data

    def get(self, kind: str) -> str | None:
        """The level set for `kind`, or None."""
        value = getattr(self, kind, None) if kind in type(self).model_fields else None
        return str(value) if value is not None else None


class FreezeWindow(StrictModel):
    """A period (account-local date-times) in which nothing is executed automatically."""

    start: datetime
    end: datetime
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindow:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class GuardrailSettings(StrictModel):
    """Limits that hold whatever a policy proposes or a human approves.

    Checked when an action is decided and again right before it executes.
    """

    max_budget_change_pct: float = Field(default=20.0, gt=0, description="one change, % of the current budget")
    max_budget_change_abs: Decimal | None = Field(default=None, gt=0, description="one change, account currency")
    max_daily_budget_change_pct: float = Field(default=30.0, gt=0, description="all changes to one budget in a day")
    max_daily_budget_change_abs: Decimal | None = Field(default=None, gt=0)
    account_daily_budget_cap: Decimal | None = Field(default=None, gt=0, description="sum of active daily budgets")
    campaign_daily_budget_caps: dict[str, Decimal] = Field(default_factory=dict)
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="auto only above this policy confidence")
    freeze_windows: tuple[FreezeWindow, ...] = ()
    max_actions_per_cycle: int = Field(default=25, ge=0)
    cooldown_hours: dict[str, float] = Field(default_factory=lambda: {"default": 72.0})
    budget_changes_per_hour: int = Field(default=4, ge=1, description="platform limit (Meta: 4 per ad set)")
    approval_ttl_hours: float = Field(default=24.0, gt=0, description="a pending action no cycle has refreshed expires")
    max_segment_delivery_share: float = Field(
        default=0.35, gt=0, le=1, description="share of an ad set's delivery one segment action may cut")
    evidence_grace_days: int = Field(
        default=2, ge=0,
        description="days a pending action may go unproposed (evidence near its threshold) before it expires")

    def cooldown_for(self, kind: str) -> float:
        return self.cooldown_hours.get(kind, self.cooldown_hours.get("default", 72.0))


class ServiceSettings(StrictModel):
    """The long-running service (`paid-media-agent serve`): schedules, HTTP server, shutdown."""

    host: str = Field(default="127.0.0.1", description="bind address (authentication is required on any)")
    port: int = Field(default=8787, ge=0, le=65535)
    dashboard_token: SecretStr | None = Field(default=None, description="deprecated: one of api_tokens, named dashboard")
    api_tokens: dict[str, SecretStr] = Field(default_factory=dict, description="name: bearer token (32+ random bytes)")
    session_secret: SecretStr | None = Field(default=None, description="signs sign-in sessions; needed once users exist")
    session_hours: float = Field(default=12, gt=0, le=24 * 30, description="a sign-in lasts this long")
    insecure_no_auth: bool = Field(default=False, description="DANGER: serve every page without authentication")
    cycle_interval_minutes: float = Field(default=60, gt=0)
    expiry_sweep_minutes: float = Field(default=15, gt=0)
    mail_poll_seconds: float = Field(default=60, gt=0)
    daily_dashboard_at: str = Field(default="07:00", pattern=r"^\d{2}:\d{2}$", description="account-local time")
    weekly_pacing_report_at: str = Field(default="mon 08:00", pattern=r"^(mon|tue|wed|thu|fri|sat|sun) \d{2}:\d{2}$")
    misfire_grace_minutes: float = Field(default=24 * 60, gt=0, description="a missed run still runs, once")
    ready_max_age_minutes: float | None = Field(default=None, gt=0, description="default: 3 cycle intervals")
    shutdown_timeout_seconds: float = Field(default=60, gt=0)
    leader_poll_seconds: float = Field(default=5, gt=0)
    log_format: Literal["auto", "json", "console"] = "auto"
    public_url: str = Field(default="http://127.0.0.1:8787", pattern=r"^https?://\S+$",
                            description="where people reach the console (links in alerts)")

    @model_validator(mode="after")
    def _long_random_secrets(self) -> ServiceSettings:
        named = {f"api_tokens.{name}": token for name, token in self.api_tokens.items()}
        named.update({key: getattr(self, key) for key in ("dashboard_token", "session_secret")
                      if getattr(self, key) is not None})
        problems = [f"{key} {problem}" for key, value in named.items()
                    if (problem := secret_problem(value.get_secret_value()))]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ReportingSettings(StrictModel):
    """Dashboard and reports: where they are written, and how currencies are blended."""

    output_dir: str = Field(default="reports", description="daily dashboards and weekly pacing reports")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="currency of cross-account totals")
    fx_rates: dict[str, Decimal] = Field(default_factory=dict, description="units of `currency` per unit")


class ExecutionSettings(StrictModel):
    """Where per-account cycle work runs, and how many accounts of one platform at once."""

    mode: Literal["inprocess", "celery"] = "inprocess"
    max_concurrency_per_platform: dict[str, int] = Field(default_factory=lambda: {"default": 4})
    celery_broker_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    # platform -> requests a second / a day (absent: no quota). Requests a second are counted in
    # process, or in Redis across every Celery worker; the daily quota is kept in Redis (Celery mode).
    requests_per_second: dict[str, float] = Field(default_factory=dict)
    requests_per_day: dict[str, int] = Field(default_factory=dict)
    celery_queue: str = Field(default="paid_media_agent", min_length=1)
    account_timeout_seconds: float = Field(default=900, gt=0)
    # writes whose answer was lost: read the platform this often right after, this far apart
    settle_attempts: int = Field(default=3, ge=0, le=10)
    settle_delay_seconds: float = Field(default=2.0, ge=0, le=60)
    # how old an unknown write must be before its absence on the platform proves it was not applied
    settle_absent_after_seconds: float = Field(default=120, ge=0, le=86400)

    def concurrency_for(self, platform: str) -> int:
        limits = self.max_concurrency_per_platform
        return max(1, limits.get(platform, limits.get("default", 4)))


class SimulatorSettings(StrictModel):
    """The built-in simulated ad platform: the zero-setup default and the test world."""

    seed: int = 42
    history_days: int = Field(default=60, ge=7, le=730)
    campaigns_per_account: int = Field(default=3, ge=1, le=200)
    ad_sets_per_campaign: int = Field(default=3, ge=1, le=200)
    ads_per_ad_set: int = Field(default=3, ge=1, le=20)


class NewAdSettings(StrictModel):
    """What creating an ad needs on Meta and LinkedIn that a `new_ad` proposal does not carry.

    Each is optional; a `new_ad` on a platform that needs a missing one fails with a message
    naming the setting, and the rest of the batch goes on.
    """

    landing_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$", description="link of new ads when the proposal names none"
    )
    meta_page_id: str | None = Field(
        default=None, pattern=r"^\d+$", description="Meta: the Facebook Page new ads are published as"
    )
    linkedin_organization: str | None = Field(
        default=None, pattern=r"^(urn:li:organization:)?\d+$",
        description="LinkedIn: the company page (id or urn:li:organization:N) that authors new ads",
    )


class PolicyDefaults(StrictModel):
    """Settings that apply to every account unless the account overrides them."""

    policies: PolicySettings = PolicySettings()
    objective: ObjectiveSettings | None = None  # what ad sets are judged on (docs/policies.md)
    permissions: PermissionSettings = PermissionSettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    copywriter: CopywriterSettings = CopywriterSettings()
