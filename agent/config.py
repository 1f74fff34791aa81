"""The YAML configuration, validated by pydantic.

Every validation problem is reported as `key.path[index].name: what is wrong`, so a user can
find the line to fix. Secrets appear in the file only as `${ENV_VAR}` references; they are
resolved at load from the environment (or a secrets file) and kept as `SecretStr`, which never
prints its value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from agent.alerts.settings import AlertSettings
from agent.approvals.settings import ApprovalSettings
from agent.audiences.settings import LookalikeSettings, ProspectingSettings
from agent.config_problems import connector_field_problems, describe_error, format_location
from agent.copywriter.settings import CopywriterSettings
from agent.customers.settings import PrivacySettings, SegmentDefinitions
from agent.errors import ConfigError
from agent.experiments.settings import ExperimentSettings
from agent.objectives import objective_problems
from agent.outcomes.settings import OutcomeSettings, upload_problems
from agent.rules_config import RULES_FOLDER, RuleFileError, parse_rules, read_rule_folder
from agent.settings import (
    ExecutionSettings,
    GuardrailSettings,
    NewAdSettings,
    PermissionSettings,
    PolicyDefaults,
    ReportingSettings,
    ServiceSettings,
    SimulatorSettings,
)
from policies.rules.schema import Rule
from policies.settings import ObjectiveSettings, PolicySettings, StrictModel

DEFAULT_CONFIG_PATH = Path("config.yaml")
DEFAULT_DATABASE_URL = "sqlite:///paid_media_agent.db"
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SIMULATED_PLATFORMS = ("google_ads", "meta", "linkedin")




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
    objective: ObjectiveSettings | None = None  # overrides `defaults.objective` and the policies' ROAS targets
    permissions: PermissionSettings = PermissionSettings()
    guardrails: dict[str, Any] = Field(default_factory=dict)
    copywriter: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    new_ads: NewAdSettings = NewAdSettings()
    conversion_event: str | None = Field(
        default=None, description="What counts as a conversion. Meta: purchase, lead, or a custom event's "
                                  "action type (offsite_conversion.custom.<id>); unset: purchase, and leads in "
                                  "lead ad campaigns. LinkedIn: website or lead (lead gen form leads); unset: "
                                  "by each campaign's objective")
    audiences: dict[str, str] = Field(
        default_factory=dict, description="CRM segment name -> the platform audience kept in step with it "
                                          "(Google Customer Match user list id, Meta custom audience id, "
                                          "LinkedIn DMP segment id); docs/audiences.md")
    lookalikes: dict[str, LookalikeSettings] = Field(
        default_factory=dict, description="synced segment -> a lookalike it seeds (Meta); docs/audiences.md")
    prospecting: ProspectingSettings | None = Field(
        default=None, description="prospecting campaigns and the synced segment they exclude; docs/segments.md")
    platform_attribution: str | None = Field(
        default=None, description="Meta: attribution windows counted, e.g. 7d_click_1d_view (default: the ad "
                                  "account's own setting); 7d_view and 28d_view are no longer returned")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("audiences", mode="before")
    @classmethod
    def _audience_ids(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        value = {str(k): str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in value.items()}
        duplicated = sorted({str(v) for v in value.values() if list(value.values()).count(v) > 1})
        if duplicated:
            raise ValueError(f"audience {duplicated[0]} is named for more than one segment; one audience "
                             "follows one segment")
        for segment, audience_id in value.items():
            if not segment.strip():
                raise ValueError("a segment name must not be empty")
            if not str(audience_id).isdigit():
                raise ValueError(f"segment {segment!r}: audience id {audience_id!r} must be the platform's "
                                 "numeric audience id")
        return value

    @field_validator("monthly_budget")
    @classmethod
    def _positive_budget(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError(f"must be a positive amount, got {value}")
        return value

    @model_validator(mode="after")
    def _lookalike_seeds(self) -> AccountConfig:
        for segment in self.lookalikes:
            if segment not in self.audiences:
                raise ValueError(f"lookalikes.{segment}: the seed must be a synced segment (one of audiences: "
                                 f"{', '.join(self.audiences) or 'none'})")
        if self.lookalikes and (self.simulate or self.platform) != "meta":
            raise ValueError("lookalikes: lookalike seeds are created on Meta only")
        if self.prospecting is not None and self.prospecting.exclude_segment not in self.audiences:
            raise ValueError(f"prospecting.exclude_segment: {self.prospecting.exclude_segment!r} must be a synced "
                             f"segment (one of audiences: {', '.join(self.audiences) or 'none'})")
        return self

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
    lookback_days: int = Field(
        default=28, ge=1, le=90,
        description="Days every pull re-reads: late conversions arrive up to the attribution window (28 days) "
        "after the click, and a day not re-read stays short of them for good.",
    )
    lookback_recent_days: int = Field(
        default=3, ge=1, le=90,
        description="Days re-read on every cycle. The rest of the look-back window is re-read on an account's "
        "first cycle of its local day: an hourly cycle then reads hours of restatements, not 28 days of them.",
    )
    initial_history_days: int = Field(default=30, ge=1, le=365)
    simulator: SimulatorSettings = SimulatorSettings()
    service: ServiceSettings = ServiceSettings()
    reporting: ReportingSettings = ReportingSettings()
    outcomes: OutcomeSettings = OutcomeSettings()
    approvals: ApprovalSettings = ApprovalSettings()
    alerts: AlertSettings = AlertSettings()
    execution: ExecutionSettings = ExecutionSettings()
    experiments: ExperimentSettings = Field(default_factory=lambda: ExperimentSettings())
    defaults: PolicyDefaults = Field(default_factory=lambda: PolicyDefaults())
    accounts: tuple[AccountConfig, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(default=(), description="user rules (docs/rules.md)")
    segments: SegmentDefinitions = Field(default=(), description="CRM segments (docs/segments.md, CRM segments)")
    privacy: PrivacySettings = PrivacySettings()

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
        if self.alerts.slack_channel and self.approvals.slack is None:
            raise ValueError("alerts.slack_channel is set but approvals.slack (the bot token) is missing")
        if self.alerts.email_to and self.approvals.email is None:
            raise ValueError("alerts.email_to is set but approvals.email (the SMTP server) is missing")
        unknown = sorted(set(self.outcomes.utm_templates) - seen)
        if unknown:
            raise ValueError(f"outcomes.utm_templates names accounts that are not configured: {', '.join(unknown)}")
        problems = upload_problems(self.outcomes.uploads, {a.id: a.simulate if a.platform == "simulator" and a.simulate
                                                           else a.platform for a in self.accounts})
        if problems:
            raise ValueError("; ".join(problems))
        problems = objective_problems(self.accounts, self.defaults.objective)
        if problems:
            raise ValueError(problems[0])
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
        objective = account.objective or self.defaults.objective
        if objective is not None:
            merged["objective"] = {**objective.model_dump(), "qualified_stage": self.outcomes.qualified_stage}
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
                problems += [f"accounts[{index}].{section}.{format_location(e['loc'])}: {describe_error(e)}"
                             for e in error.errors()]
    return problems


def parse_config(raw: Any, environ: Mapping[str, str] | None = None, source: str = "config",
                 rule_files: Sequence[tuple[str, Any]] = ()) -> AgentConfig:
    """Validate an already-parsed YAML document (and the rules of a `rules/` folder); raises ConfigError
    naming every bad key."""
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
    accounts = resolved.get("accounts") if isinstance(resolved.get("accounts"), list) else []
    rules, rule_problems = parse_rules(resolved.pop("rules", None), rule_files,
                                       [str(a.get("id")) for a in accounts if isinstance(a, Mapping)],
                                       [str(a.get(k)) for a in accounts if isinstance(a, Mapping)
                                        for k in ("platform", "simulate") if a.get(k)],
                                       {str(a.get("id")): str(a.get("simulate") or a.get("platform"))
                                        for a in accounts if isinstance(a, Mapping)})
    problems += rule_problems
    try:
        config = AgentConfig.model_validate(resolved)
    except ValidationError as error:
        problems += [line for line in (f"{format_location(e['loc'])}: {describe_error(e)}" for e in error.errors())
                     if line.split(":", 1)[0] not in unresolved]
        problems += _account_section_problems(resolved)
        problems += _new_locations(connector_field_problems(resolved.get("accounts")), problems)
        raise ConfigError(problems, source=source) from None
    for index, account in enumerate(config.accounts):
        for section, merge in (("policies", config.policy_settings), ("guardrails", config.guardrail_settings),
                               ("copywriter", config.copywriter_settings)):
            try:
                merge(account)
            except ValidationError as error:
                problems += [
                    f"accounts[{index}].{section}.{format_location(e['loc'])}: {describe_error(e)}"
                    for e in error.errors()
                ]
    problems += _new_locations(connector_field_problems(resolved.get("accounts")), problems)
    if problems:
        raise ConfigError(problems, source=source)
    return config.model_copy(update={"rules": rules})


def _new_locations(found: list[str], reported: list[str]) -> list[str]:
    """`found`, less the problems at a key already reported (a missing variable, a wrong type)."""
    known = {line.split(":", 1)[0] for line in reported}
    return [line for line in found if line.split(":", 1)[0] not in known]


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
    try:
        rule_files = read_rule_folder(path.parent / RULES_FOLDER)
    except RuleFileError as error:
        raise ConfigError(error.problems, source=str(path)) from None
    return parse_config(raw if raw is not None else {}, environ=environ, source=str(path), rule_files=rule_files)
