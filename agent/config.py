"""The YAML configuration, validated by pydantic.

Every validation problem is reported as `key.path[index].name: what is wrong`, so a user can
find the line to fix. Secrets appear in the file only as `${ENV_VAR}` references; they are
resolved at load from the environment (or a secrets file) and kept as `SecretStr`, which never
prints its value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from agent.approvals.settings import ApprovalSettings
from agent.auth.tokens import secret_problem
from agent.copywriter.settings import CopywriterSettings
from connectors.meta.conversions import check_event, parse_attribution
from policies.settings import PolicySettings, StrictModel

DEFAULT_CONFIG_PATH = Path("config.yaml")
DEFAULT_DATABASE_URL = "sqlite:///paid_media_agent.db"
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SIMULATED_PLATFORMS = ("google_ads", "meta", "linkedin")
PermissionLevel = Literal["observe", "propose", "auto"]


class ConfigError(Exception):
    """The configuration is invalid. `problems` holds one `key.path: message` line per problem."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source} is invalid:\n" + "\n".join(f"  {p}" for p in problems))


class PermissionSettings(StrictModel):
    """The permission level of each kind of change; a kind not set here falls back to the defaults,
    then to `propose`. Typed, so a misspelt kind is an error instead of a silently ignored key."""

    pause: PermissionLevel | None = None
    enable: PermissionLevel | None = None
    set_budget: PermissionLevel | None = None
    add_negative_keywords: PermissionLevel | None = None
    exclude_audience: PermissionLevel | None = None
    new_ad: PermissionLevel | None = None

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
    approval_ttl_hours: float = Field(default=24.0, gt=0)

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


class AccountConfig(StrictModel):
    """One ad account the agent watches."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = ""
    platform: str = Field(min_length=1, description="connector entry-point name, e.g. simulator")
    simulate: Literal["google_ads", "meta", "linkedin"] | None = None
    platform_account_id: str | None = Field(
        default=None, description="the platform's id (Google customer id, Meta act_..., LinkedIn sponsored account)"
    )
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    timezone: str = "UTC"
    monthly_budget: Decimal | None = None
    protected_entities: tuple[str, ...] = ()
    policies: dict[str, Any] = Field(default_factory=dict)
    permissions: PermissionSettings = PermissionSettings()
    guardrails: dict[str, Any] = Field(default_factory=dict)
    copywriter: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    new_ads: NewAdSettings = NewAdSettings()
    conversion_event: str | None = Field(
        default=None, description="Meta: what counts as a conversion: purchase (default), lead, or a custom "
                                  "event's action type (offsite_conversion.custom.<id>)")
    platform_attribution: str | None = Field(
        default=None, description="Meta: attribution windows counted, e.g. 7d_click_1d_view (default: the ad "
                                  "account's own setting); 7d_view and 28d_view are no longer returned")

    @field_validator("conversion_event")
    @classmethod
    def _known_conversion_event(cls, value: str | None) -> str | None:
        return None if value is None else check_event(value)

    @field_validator("platform_attribution")
    @classmethod
    def _returned_attribution(cls, value: str | None) -> str | None:
        if value is not None:
            parse_attribution(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("monthly_budget")
    @classmethod
    def _positive_budget(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError(f"must be a positive amount, got {value}")
        return value

    @model_validator(mode="after")
    def _simulated_platform(self) -> AccountConfig:
        if self.platform == "simulator" and self.simulate is None:
            raise ValueError("simulate: required for platform 'simulator' (one of google_ads, meta, linkedin)")
        return self


class AgentConfig(StrictModel):
    """The whole configuration file."""

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    dry_run: bool = False
    kill_switch: bool = Field(default=False, description="stop all execution; keep reporting")
    lookback_days: int = Field(default=7, ge=1, le=90)
    initial_history_days: int = Field(default=30, ge=1, le=365)
    simulator: SimulatorSettings = SimulatorSettings()
    service: ServiceSettings = ServiceSettings()
    reporting: ReportingSettings = ReportingSettings()
    approvals: ApprovalSettings = ApprovalSettings()
    execution: ExecutionSettings = ExecutionSettings()
    defaults: PolicyDefaults = Field(default_factory=lambda: PolicyDefaults())
    accounts: tuple[AccountConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_account_ids(self) -> AgentConfig:
        seen: set[str] = set()
        for account in self.accounts:
            if account.id in seen:
                raise ValueError(f"duplicate account id {account.id!r}")
            seen.add(account.id)
        unknown = self.approvals.unknown_accounts(seen)
        if unknown:
            raise ValueError(f"approvals.accounts names accounts that are not configured: {', '.join(unknown)}")
        return self

    def account(self, account_id: str) -> AccountConfig:
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)

    def policy_settings(self, account: AccountConfig) -> PolicySettings:
        """The account's policy settings: defaults overridden key by key by the account's own; no
        budget policy aims above the account's guardrail `max_budget_change_pct`."""
        merged = _deep_merge(self.defaults.policies.model_dump(), account.policies)
        limit = self.guardrail_settings(account).max_budget_change_pct / 100
        return PolicySettings.model_validate(merged).within_change_limit(limit)

    def copywriter_settings(self, account: AccountConfig) -> CopywriterSettings:
        """The account's copywriter settings: defaults overridden key by key by the account's own."""
        merged = _deep_merge(_plain(self.defaults.copywriter), account.copywriter)
        return CopywriterSettings.model_validate(merged)

    def guardrail_settings(self, account: AccountConfig) -> GuardrailSettings:
        """The account's guardrails: defaults overridden key by key by the account's own."""
        merged = _deep_merge(self.defaults.guardrails.model_dump(), account.guardrails)
        return GuardrailSettings.model_validate(merged)


class PolicyDefaults(StrictModel):
    """Settings that apply to every account unless the account overrides them."""

    policies: PolicySettings = PolicySettings()
    permissions: PermissionSettings = PermissionSettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    copywriter: CopywriterSettings = CopywriterSettings()


AgentConfig.model_rebuild()


def _plain(model: Any) -> dict[str, Any]:
    """A settings model as nested dicts that validate back to the same model (secrets stay SecretStr,
    which `model_dump` would turn into asterisks)."""
    from pydantic import BaseModel

    def convert(value: Any) -> Any:
        return _plain(value) if isinstance(value, BaseModel) else value

    return {name: convert(getattr(model, name)) for name in type(model).model_fields}


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _format_location(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _describe(error: Mapping[str, Any]) -> str:
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


def read_secrets_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (a `.env`-style file); blank lines and `#` comments are ignored."""
    secrets: dict[str, str] = {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" not in stripped:
            raise ConfigError([f"line {number}: expected KEY=VALUE"], source=f"secrets file {path}")
        key, value = stripped.split("=", 1)
        secrets[key.strip()] = value.strip().strip('"').strip("'")
    return secrets


def _resolve_references(node: Any, path: str, lookup: Mapping[str, str], problems: list[str],
                        ancestors: tuple[int, ...] = ()) -> Any:
    """Replace `${VAR}` references with values from `lookup`, collecting missing names."""
    if isinstance(node, (dict, list)):
        if id(node) in ancestors:  # a YAML alias inside the node it names (`a: &x [*x]`)
            raise ConfigError([f"{path or '(top level)'}: a YAML alias refers to itself"])
        ancestors = (*ancestors, id(node))
    if isinstance(node, dict):
        return {
            key: _resolve_references(value, f"{path}.{key}" if path else str(key), lookup, problems, ancestors)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_resolve_references(value, f"{path}[{index}]", lookup, problems, ancestors)
                for index, value in enumerate(node)]
    if isinstance(node, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in lookup:
                problems.append(f"{path}: environment variable {name} is not set (nor in the secrets file)")
                return ""
            return lookup[name]

        return ENV_REFERENCE.sub(substitute, node)
    return node


def _account_section_problems(raw: Mapping[str, Any]) -> list[str]:
    """The accounts' policies/guardrails/copywriter overrides checked against the defaults even when
    the rest of the file is invalid, so one run of `config check` lists every problem."""
    try:
        defaults = PolicyDefaults.model_validate(raw.get("defaults") or {})
    except ValidationError:  # reported already, at defaults.*
        return []
    accounts = raw.get("accounts")
    problems: list[str] = []
    sections = (("policies", PolicySettings, defaults.policies.model_dump()),
                ("guardrails", GuardrailSettings, defaults.guardrails.model_dump()),
                ("copywriter", CopywriterSettings, _plain(defaults.copywriter)))
    for index, account in enumerate(accounts if isinstance(accounts, list) else []):
        for section, model, base in sections:
            override = account.get(section) if isinstance(account, Mapping) else None
            if not isinstance(override, Mapping):
                continue
            try:
                model.model_validate(_deep_merge(base, override))
            except ValidationError as error:
                problems += [f"accounts[{index}].{section}.{_format_location(e['loc'])}: {_describe(e)}"
                             for e in error.errors()]
    return problems


def parse_config(raw: Any, environ: Mapping[str, str] | None = None, source: str = "config") -> AgentConfig:
    """Validate an already-parsed YAML document; raises ConfigError naming every bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): expected a mapping of settings"], source=source)
    lookup: dict[str, str] = {}
    secrets_path = raw.pop("secrets_file", None)
    if secrets_path:
        path = Path(str(secrets_path))
        if not path.is_file():
            raise ConfigError([f"secrets_file: no such file {str(path)!r}"], source=source)
        lookup.update(read_secrets_file(path))
    lookup.update(os.environ if environ is None else environ)
    problems: list[str] = []
    try:
        resolved = _resolve_references(raw, "", lookup, problems)
    except ConfigError as error:
        raise ConfigError(error.problems, source=source) from None
    # every problem at once: a missing variable does not hide the rest of the file (only what its
    # empty stand-in makes of the same key)
    unresolved = {p.split(":", 1)[0] for p in problems}
    try:
        config = AgentConfig.model_validate(resolved)
    except ValidationError as error:
        problems += [line for line in (f"{_format_location(e['loc'])}: {_describe(e)}" for e in error.errors())
                     if line.split(":", 1)[0] not in unresolved]
        problems += _account_section_problems(resolved)
        raise ConfigError(problems, source=source) from None
    for index, account in enumerate(config.accounts):
        for section, merge in (("policies", config.policy_settings), ("guardrails", config.guardrail_settings),
                               ("copywriter", config.copywriter_settings)):
            try:
                merge(account)
            except ValidationError as error:
                problems += [
                    f"accounts[{index}].{section}.{_format_location(e['loc'])}: {_describe(e)}"
                    for e in error.errors()
                ]
    if problems:
        raise ConfigError(problems, source=source)
    return config


def _read_text(path: Path) -> str:
    """The file's text; a ConfigError (not a traceback) if it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError([f"not UTF-8 text: byte 0x{error.object[error.start]:02x} at offset {error.start} "
                           "(save the file as UTF-8)"], source=str(path)) from None
    except OSError as error:
        raise ConfigError([f"cannot be read: {error.strerror or error}"], source=str(path)) from None


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read and validate the YAML file at `path`."""
    if not path.is_file():
        raise ConfigError([f"no such file: {path} (copy config.example.yaml to start)"], source=str(path))
    try:
        raw = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as error:
        raise ConfigError([f"not valid YAML: {error}"], source=str(path)) from None
    return parse_config(raw if raw is not None else {}, environ=environ, source=str(path))
