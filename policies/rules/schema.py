"""User-defined rules: the schema, as pydantic models (docs/rules.md; JSON Schema in docs/rules.schema.json).

A rule says which entities it looks at (`scope`), when it fires (`when`: comparisons of a metric over a
window, combined with all/any/not), what it then does (`then`), how often it may do it per entity
(`max_per_period`), when it is evaluated (`schedule`) and whether it only reports (`dry_run`).
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

WINDOW_PATTERN = r"^(today|yesterday|month_to_date|last_([1-9]|[1-8][0-9]|90)_days)$"
Window = Annotated[str, Field(pattern=WINDOW_PATTERN, description=(
    "today (so far), yesterday, month_to_date, or last_N_days (N = 1..90 complete days ending yesterday)"))]
Metric = Literal["spend", "impressions", "clicks", "conversions", "conversion_value", "ctr", "cpc", "cpa", "roas",
                 "frequency", "budget"]
Operator = Literal[">", ">=", "<", "<=", "==", "!="]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# metrics whose true value the posterior machinery can estimate (policies/rules/evidence.py)
ESTIMABLE_METRICS = frozenset({"roas", "cpa", "ctr", "cpc"})
RULE_NAME = r"^[a-z0-9][a-z0-9_-]{0,58}$"  # "rule:" + name fits the actions.policy column (64)


class RuleModel(BaseModel):
    """Unknown keys are errors: a typo must not silently change what a rule does."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OtherWindow(RuleModel):
    """The same metric over another window, times `factor` ("7-day CPA > 1.3 x 28-day CPA")."""

    window: Window
    factor: float = Field(default=1.0, gt=0)


class Comparison(RuleModel):
    """`metric` over `window` compared (`op`) with exactly one of: a constant `value`, the same metric over
    `other` window times a factor, or `budget` times the entity's daily budget."""

    metric: Metric
    window: Window
    op: Operator
    value: float | None = None
    other: OtherWindow | None = None
    budget: float | None = Field(default=None, gt=0, description="factor of the entity's daily budget")
    with_confidence: float | None = Field(default=None, gt=0.5, lt=1, description=(
        "the comparison must also hold for the true value with this posterior probability (roas, cpa, ctr, cpc "
        "against a constant; lag-corrected)"))

    @model_validator(mode="after")
    def _one_reference(self) -> Comparison:
        given = [name for name in ("value", "other", "budget") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of value, other or budget to compare with"
                             + (f" (got {', '.join(given)})" if given else ""))
        if self.with_confidence is not None:
            if self.metric not in ESTIMABLE_METRICS:
                raise ValueError(f"with_confidence: {self.metric} is measured, not estimated; the evidence clause "
                                 f"applies to {', '.join(sorted(ESTIMABLE_METRICS))}")
            if self.value is None:
                raise ValueError("with_confidence: compares with a constant value only")
            if self.op in ("==", "!="):
                raise ValueError("with_confidence: needs an ordering operator (>, >=, <, <=)")
        return self


class AllOf(RuleModel):
    all: list[Condition] = Field(min_length=1)


class AnyOf(RuleModel):
    any: list[Condition] = Field(min_length=1)


class NotOf(RuleModel):
    not_: Condition = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _condition_tag(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("all", "any", "not"):
            if key in data:
                return key
        return "compare"
    if isinstance(data, AllOf):
        return "all"
    if isinstance(data, AnyOf):
        return "any"
    return "not" if isinstance(data, NotOf) else "compare"


Condition = Annotated[
    Annotated[Comparison, Tag("compare")] | Annotated[AllOf, Tag("all")] | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(_condition_tag),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


class Scope(RuleModel):
    """Which entities a rule looks at. Empty lists mean "all"; `names` are glob patterns (`Brand*`)."""

    accounts: list[str] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    level: Literal["ad_set", "campaign"] = "ad_set"
    names: list[str] = Field(default_factory=list, description="glob patterns on the entity's name")
    campaigns: list[str] = Field(default_factory=list, description="glob patterns on the parent campaign's name")
    labels: list[str] = Field(default_factory=list, description=(
        "entities carrying at least one of these labels (Google Ads labels, Meta ad labels; LinkedIn has none)"))


class Pause(RuleModel):
    kind: Literal["pause"]


class Enable(RuleModel):
    kind: Literal["enable"]


class SetBudget(RuleModel):
    kind: Literal["set_budget"]
    amount: Decimal = Field(gt=0, description="new daily budget, account currency")


class ChangeBudgetPct(RuleModel):
    kind: Literal["change_budget_pct"]
    pct: float = Field(ge=-90, le=500, description="+15 raises the daily budget 15%, -20 cuts it 20%")

    @field_validator("pct")
    @classmethod
    def _not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("a 0% change does nothing")
        return value


class Notify(RuleModel):
    kind: Literal["notify"]
    message: str = Field(default="", max_length=500)


class AddLabel(RuleModel):
    """Attach a label to the entity (Google Ads label, Meta ad label; created if the account has none of
    that name). LinkedIn has no labels."""

    kind: Literal["add_label"]
    label: str = Field(min_length=1, max_length=80, pattern=r"^\S(.*\S)?$",
                       description="the label's name, without leading or trailing spaces")


class AdSchedule(RuleModel):
    """Dim the rule's `schedule` window (its weekdays and hours) through the platform's own schedule:
    Google ad schedules with this bid modifier, Meta ad set schedules (off only: `bid_modifier: 0`)."""

    kind: Literal["ad_schedule"]
    bid_modifier: float = Field(ge=0, le=10, description=(
        "bids in the window times this (Google: 0.1..10; 0 = no delivery in the window, the only value Meta takes)"))

    @field_validator("bid_modifier")
    @classmethod
    def _google_range(cls, value: float) -> float:
        if 0 < value < 0.1:
            raise ValueError("Google ad schedules take 0.1..10 (or 0: off in the window)")
        return value


Action = Annotated[Pause | Enable | SetBudget | ChangeBudgetPct | Notify | AddLabel | AdSchedule,
                   Field(discriminator="kind")]
BUDGET_ACTIONS = frozenset({"set_budget", "change_budget_pct"})


class MaxPerPeriod(RuleModel):
    """At most `count` firings per entity per `period` (calendar day, ISO week, month; account time zone)."""

    count: int = Field(ge=1, le=1000)
    period: Literal["day", "week", "month"]


class Schedule(RuleModel):
    """When the rule is evaluated (account time zone). Nothing set: every cycle. `daily_at`: the first
    cycle at or after that time each day; `weekdays` and `hours` restrict the days and hours."""

    daily_at: time | None = None
    weekdays: list[Weekday] = Field(default_factory=list)
    hours: list[int] = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[int]) -> list[int]:
        bad = [h for h in value if not 0 <= h <= 23]
        if bad:
            raise ValueError(f"hours are 0..23 (got {bad})")
        return value


class Rule(RuleModel):
    """One user rule."""

    name: str = Field(pattern=RULE_NAME, description="lower-case letters, digits, - and _; unique")
    description: str = ""
    enabled: bool = True
    dry_run: bool = Field(default=False, description="report what it would do, change nothing")
    scope: Scope = Field(default_factory=Scope)
    when: Condition
    then: list[Action] = Field(min_length=1)
    max_per_period: MaxPerPeriod | None = None
    schedule: Schedule = Field(default_factory=Schedule)

    @model_validator(mode="after")
    def _actions_fit_level(self) -> Rule:
        kinds = [a.kind for a in self.then]
        if len(set(kinds)) != len(kinds):
            raise ValueError("then: each action kind at most once")
        if {"pause", "enable"} <= set(kinds):
            raise ValueError("then: pause and enable together undo each other")
        if len(BUDGET_ACTIONS & set(kinds)) > 1:
            raise ValueError("then: one budget action (set_budget or change_budget_pct)")
        if "ad_schedule" in kinds:
            if not (self.schedule.weekdays or self.schedule.hours):
                raise ValueError("ad_schedule: set schedule.weekdays and/or schedule.hours: they are the window to dim")
            if set(kinds) - {"ad_schedule", "notify"}:
                raise ValueError("then: ad_schedule writes a standing schedule; it goes alone (or with notify)")
            runs = _hour_runs(self.schedule.hours or list(range(24)))
            if 2 * runs + 1 > 6:  # the window's runs and the hours between them, on one day
                raise ValueError(f"ad_schedule: schedule.hours form {runs} separate ranges a day; Google allows six "
                                 "ad schedules a day, so at most two ranges (with the hours around them)")
        return self


def _hour_runs(hours: list[int]) -> int:
    """How many separate ranges of consecutive hours `hours` make."""
    ordered = sorted(set(hours))
    return sum(1 for i, hour in enumerate(ordered) if i == 0 or ordered[i - 1] != hour - 1)


class RulesFile(RuleModel):
    """A rules file (`rules/*.yaml` next to the config), or the `rules:` section of the config."""

    rules: list[Rule] = Field(default_factory=list)


def rules_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rules file, for editors (committed as docs/rules.schema.json)."""
    schema = RulesFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "paid-media-agent rules"
    return schema


def is_valid_rule_name(name: str) -> bool:
    return re.fullmatch(RULE_NAME, name) is not None


def _plain_condition(condition: Condition) -> Condition:
    if isinstance(condition, AllOf):
        return condition.model_copy(update={"all": [_plain_condition(c) for c in condition.all]})
    if isinstance(condition, AnyOf):
        return condition.model_copy(update={"any": [_plain_condition(c) for c in condition.any]})
    if isinstance(condition, NotOf):
        return condition.model_copy(update={"not_": _plain_condition(condition.not_)})
    return condition.model_copy(update={"with_confidence": None})


def without_evidence(rule: Rule) -> Rule:
    """The same rule with every `with_confidence` clause removed (to see what the evidence saves)."""
    return rule.model_copy(update={"when": _plain_condition(rule.when)})
