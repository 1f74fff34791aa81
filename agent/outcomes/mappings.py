"""Mappings: how the columns of a CRM export become outcome records.

A mapping (YAML) names, for each of our fields, the file's column(s) holding it (the first non-empty
wins; headers match case-insensitively), and lists `records`: each entry gives one outcome per row
when it applies, with a fixed `stage` or a `stage_column` read through `stage_values`. Three ship
with the agent (`plain`, `hubspot`, `salesforce`, in agent/outcomes/mappings/); any other is a path.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from agent.outcomes.records import CONSENT_FIELDS, TEXT_FIELDS, OutcomeRecord, RejectedRow, build_record
from agent.outcomes.settings import STAGES
from policies.settings import StrictModel

BUILT_IN = Path(__file__).parent / "mappings"
ROW_FIELDS = ("crm_id", "amount", "currency", "email", "phone", *TEXT_FIELDS, *CONSENT_FIELDS)


class MappingError(ValueError):
    """A mapping that cannot be used; the message names the file and the problem."""


class Condition(StrictModel):
    column: list[str] = Field(min_length=1)
    values: list[str] | None = Field(default=None, alias="in")  # None: the column is non-empty


class RecordRule(StrictModel):
    stage: str | None = None
    stage_column: list[str] | None = None
    stage_values: dict[str, str] | None = None  # file value (any case) -> stage; None: the value is the stage
    at: list[str] = Field(min_length=1)
    optional: bool = False  # an empty timestamp means "not reached" rather than a bad row
    when: Condition | None = None
    amount: bool = False

    @model_validator(mode="after")
    def _one_stage_source(self) -> RecordRule:
        if (self.stage is None) == (self.stage_column is None):
            raise ValueError("give exactly one of stage, stage_column")
        stages = [self.stage] if self.stage else list((self.stage_values or {}).values())
        for stage in stages:
            if stage not in STAGES:
                raise ValueError(f"unknown stage {stage!r} (one of {', '.join(STAGES)})")
        return self


class OutcomeMapping(StrictModel):
    description: str = ""
    fields: dict[str, list[str]]
    crm_id_separator: str | None = None  # a column listing several ids: the first one is used
    date_formats: list[str] = Field(default_factory=list)  # strptime formats tried before ISO 8601 (locale dates)
    records: list[RecordRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_fields(self) -> OutcomeMapping:
        unknown = sorted(set(self.fields) - set(ROW_FIELDS))
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (one of {', '.join(ROW_FIELDS)})")
        if "crm_id" not in self.fields:
            raise ValueError("fields.crm_id: required")
        return self

    def check_header(self, header: list[str]) -> None:
        """Raise MappingError unless the file has a CRM id column and a timestamp column."""
        present = {column.strip().lower() for column in header}
        for needed, columns in (("crm_id", self.fields["crm_id"]),
                                ("a stage timestamp", [c for rule in self.records for c in rule.at])):
            if not any(column.lower() in present for column in columns):
                raise MappingError(f"no {needed} column (expected one of: {', '.join(columns[:6])})")

    def records_of(self, row: Mapping[str, str | None]) -> list[OutcomeRecord]:
        """The outcomes one row gives, or RejectedRow with the reason."""
        cells = {str(key).strip().lower(): value for key, value in row.items() if key is not None}
        base = {name: _first(cells, columns) for name, columns in self.fields.items()}
        if self.crm_id_separator and base.get("crm_id"):
            base["crm_id"] = str(base["crm_id"]).split(self.crm_id_separator)[0]
        records: list[OutcomeRecord] = []
        for rule in self.records:
            if rule.when is not None and not _holds(rule.when, cells):
                continue
            at = _first(cells, rule.at)
            if at is None and rule.optional:
                continue
            stage = rule.stage or _stage(rule, cells)
            if stage is None:
                continue
            fields = {**base, "stage": stage, "stage_at": _localized(at, self.date_formats)}
            if not rule.amount:
                fields["amount"] = None
            records.append(build_record(fields))
        if not records:
            raise RejectedRow("no stage reached in this row (every stage column is empty)")
        return records


def _first(cells: Mapping[str, str | None], columns: list[str]) -> str | None:
    for column in columns:
        value = cells.get(column.lower())
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _localized(value: str | None, formats: list[str]) -> str | None:
    """A date written in one of the export's locale formats, as ISO 8601 (else unchanged)."""
    for date_format in formats if value else ():
        try:
            return datetime.strptime(str(value), date_format).isoformat()
        except ValueError:
            continue
    return value


def _holds(condition: Condition, cells: Mapping[str, str | None]) -> bool:
    value = _first(cells, condition.column)
    if condition.values is None:
        return value is not None
    return value is not None and value.lower() in {v.lower() for v in condition.values}


def _stage(rule: RecordRule, cells: Mapping[str, str | None]) -> str | None:
    value = _first(cells, rule.stage_column or [])
    if value is None:
        raise RejectedRow("stage is empty")
    if rule.stage_values is None:
        return value.lower()
    stages = {key.lower(): stage for key, stage in rule.stage_values.items()}
    if value.lower() not in stages:
        raise RejectedRow(f"stage {value[:40]!r} is not in the mapping's stage_values")
    return stages[value.lower()]


def built_in_names() -> list[str]:
    return sorted(path.stem for path in BUILT_IN.glob("*.yaml"))


def load_mapping(name_or_path: str) -> OutcomeMapping:
    """A built-in mapping by name, or a YAML file; MappingError naming the problem."""
    path = BUILT_IN / f"{name_or_path}.yaml" if name_or_path in built_in_names() else Path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping {name_or_path!r} is neither a file nor one of {', '.join(built_in_names())}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise MappingError(f"mapping {path}: cannot be read ({type(error).__name__})") from None
    try:
        return OutcomeMapping.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top)"
        raise MappingError(f"mapping {path}: {where}: {first['msg']}") from None
