"""The `segments:` and `privacy:` sections of the config: CRM segments and how long CRM identifiers are kept.

A segment is a rule over what the CRM told us (imported outcomes and customer lists); its members
are hashed identifiers (docs/segments.md, "CRM segments"). Every problem names the segment and the
field, so `config check` points at the line to fix.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from agent.config_problems import describe_error, format_location
from policies.settings import StrictModel

SegmentKind = Literal["existing_customers", "high_value", "lapsed", "field"]
Source = Literal["outcomes", "lists"]
SEGMENT_KINDS = ("existing_customers", "high_value", "lapsed", "field")
# customer-list columns with a meaning of their own; any other column is a CRM field
LIST_COLUMNS = ("id", "email", "phone", "amount", "currency", "last_purchase", "customer_since",
                "marketing_consent")
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "existing_customers": (),
    "high_value": ("amount_above",),
    "lapsed": ("days_without_purchase",),
    "field": ("field",),
}
_OPTIONAL_BY_KIND: dict[str, tuple[str, ...]] = {
    "existing_customers": ("sources", "lists"),
    "high_value": ("sources", "lists", "amount_above"),
    "lapsed": ("sources", "lists", "days_without_purchase"),
    "field": ("lists", "field", "equals", "in_", "greater_than", "less_than"),
}


class SegmentDefinition(StrictModel):
    """One CRM segment: a rule over imported outcomes and customer lists.

    - existing_customers: people with a CRM record at stage won, or on a customer list;
    - high_value: people whose value (a list's `amount`, or their won amounts) is above `amount_above`
      in the reporting currency;
    - lapsed: customers whose last purchase (a list's `last_purchase`, or their last won stage) is
      more than `days_without_purchase` days ago;
    - field: customer-list entries whose CRM field `field` equals / is in / is greater or less than a value.
    """

    # `in` is a Python keyword: the field is `in_`, read as `in`; a dumped config validates back by name
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="lower-case slug, e.g. high-value")
    kind: SegmentKind
    description: str = Field(default="", max_length=500, description="who they are, in words (copy, reports)")
    sources: tuple[Source, ...] = Field(default=("outcomes", "lists"), min_length=1)
    lists: tuple[str, ...] | None = Field(default=None, description="only these customer lists (default: all)")
    amount_above: Decimal | None = Field(default=None, ge=0)
    days_without_purchase: int | None = Field(default=None, ge=1, le=3650)
    field: str | None = Field(default=None, min_length=1, max_length=64)
    equals: str | None = None
    in_: tuple[str, ...] | None = Field(default=None, alias="in", min_length=1)
    greater_than: Decimal | None = None
    less_than: Decimal | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _named_problems(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> SegmentDefinition:
        """Every problem prefixed with the segment's name (`segments[2]: segment 'lapsed': ...`)."""
        name = value.get("name") if isinstance(value, dict) else None
        where = f"segment {name!r}" if isinstance(name, str) and name else "segment"
        try:
            definition: SegmentDefinition = handler(value)
        except ValidationError as error:
            first = error.errors()[0]
            raise ValueError(f"{where}: {format_location(first['loc'])}: {describe_error(first)}") from None
        problem = definition.problem()
        if problem:
            raise ValueError(f"{where}: {problem}")
        return definition

    def problem(self) -> str | None:
        for required in _KIND_FIELDS[self.kind]:
            if getattr(self, required) is None:
                return f"{required}: required for kind {self.kind}"
        allowed = _OPTIONAL_BY_KIND[self.kind]
        for name in ("amount_above", "days_without_purchase", "field", "equals", "in_", "greater_than",
                     "less_than"):
            if getattr(self, name) is not None and name not in allowed:
                return f"{name.rstrip('_')}: not used by kind {self.kind}"
        if self.kind == "field":
            if "outcomes" in self.sources and self.sources != ("outcomes", "lists"):
                return "sources: a field rule reads customer lists only"
            tests = [n for n in ("equals", "in_", "greater_than", "less_than") if getattr(self, n) is not None]
            if not tests:
                return "field: give one of equals, in, greater_than, less_than"
            if len(tests) > 1 and set(tests) != {"greater_than", "less_than"}:
                return f"{tests[1].rstrip('_')}: use one of equals, in, or greater_than/less_than"
            if self.field in LIST_COLUMNS and self.field not in ("amount",):
                return f"field: {self.field!r} is a customer-list column with its own rule, not a CRM field"
        return None

    def uses(self, source: Source) -> bool:
        return source in self.sources and (source == "lists" or self.kind != "field")

    def reads_list(self, list_name: str) -> bool:
        return self.uses("lists") and (self.lists is None or list_name in self.lists)


def _unique_names(segments: tuple[SegmentDefinition, ...]) -> tuple[SegmentDefinition, ...]:
    seen: set[str] = set()
    for segment in segments:
        if segment.name in seen:
            raise ValueError(f"segment {segment.name!r}: the name is used twice")
        seen.add(segment.name)
    return segments


SegmentDefinitions = Annotated[tuple[SegmentDefinition, ...], AfterValidator(_unique_names)]


class PrivacySettings(StrictModel):
    """How long CRM identifiers and outcomes are kept (docs/segments.md, "Privacy")."""

    retention_days: int | None = Field(
        default=None, ge=1, le=3650,
        description="delete CRM records whose newest stage, and customer-list entries not seen in an import, "
                    "older than this many days (at the start of each cycle and by `privacy prune`)")


def crm_fields_used(segments: tuple[SegmentDefinition, ...]) -> set[str]:
    """The CRM fields some segment's rule reads: the only extra columns an import keeps."""
    return {s.field for s in segments if s.kind == "field" and s.field}


def existing_customer_segment(segments: tuple[SegmentDefinition, ...]) -> SegmentDefinition | None:
    """The segment that tells existing customers from new ones: the first of kind existing_customers."""
    return next((s for s in segments if s.kind == "existing_customers"), None)


def segment_warnings(segments: tuple[SegmentDefinition, ...], privacy: PrivacySettings) -> list[str]:
    """Settings that are valid but cannot do what they seem to: `config check` prints them."""
    days = privacy.retention_days
    return [f"segments: segment {s.name!r}: days_without_purchase {s.days_without_purchase} is beyond "
            f"privacy.retention_days {days}: CRM records are deleted before they could lapse (customer lists "
            "still count, from their last_purchase)"
            for s in segments if s.kind == "lapsed" and days is not None and "outcomes" in s.sources
            and (s.days_without_purchase or 0) >= days]
