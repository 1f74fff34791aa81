"""User rules as a policy: pure evaluation over an account's snapshot, proposals out, a trace for each
rule and entity (every comparison's values, whether it held, and what came of it).

Proposals carry `policy = "rule:<name>"` and go through the same gate, guardrails, cooldowns, executor,
undo and audit trail as the built-in policies' proposals; the built-in policies' churn limits are theirs
alone, a rule's limit is its own `max_per_period`. `notify` proposals are reported, never executed (agent/alerts/rule_notices.py sends them).
"""

from __future__ import annotations

import fnmatch
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.records import Entity
from policies.base import PAUSE_CHANGE, Proposal, Snapshot
from policies.money import money_str
from policies.rules.dayparting import schedule_holder, sorted_blocks, weekly_blocks, why_not
from policies.rules.evidence import probability_holds
from policies.rules.measures import budget_holder, metric_value, window_rows
from policies.rules.schema import (
    WEEKDAYS,
    AddLabel,
    AdSchedule,
    AllOf,
    AnyOf,
    ChangeBudgetPct,
    Comparison,
    Condition,
    Notify,
    NotOf,
    Rule,
    SetBudget,
)

OPERATORS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
DEFAULT_PRIOR_CONVERSIONS = 2.0


@dataclass(frozen=True)
class RuleHistory:
    """What the agent remembers of earlier evaluations: the days each rule fired on each entity (one
    entry per firing) and the day each rule was last evaluated on the account (for `daily_at`)."""

    firings: Mapping[tuple[str, str], Sequence[date]] = field(default_factory=dict)
    last_evaluated: Mapping[str, date] = field(default_factory=dict)


@dataclass(frozen=True)
class ComparisonTrace:
    condition: str
    value: float | None
    reference: float | None
    holds: bool
    probability: float | None = None
    note: str = ""
    measure: str = ""  # "cpa last_3_days"

    def as_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "value": _plain(self.value), "reference": _plain(self.reference),
                "holds": self.holds, "probability": None if self.probability is None else round(self.probability, 4),
                "note": self.note}


@dataclass(frozen=True)
class EntityTrace:
    """One rule on one entity in one evaluation."""

    rule: str
    entity_id: str
    entity_name: str
    fired: bool
    outcome: str
    comparisons: tuple[ComparisonTrace, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"entity_id": self.entity_id, "entity_name": self.entity_name, "fired": self.fired,
                "outcome": self.outcome, "conditions": [c.as_dict() for c in self.comparisons]}


@dataclass(frozen=True)
class RuleEvaluation:
    proposals: list[Proposal]
    traces: dict[str, list[EntityTrace]]  # per rule evaluated (due on its schedule)


def _plain(value: float | None) -> float | str | None:
    if value is None:
        return None
    return "inf" if value == float("inf") else round(value, 6)


def describe(condition: Condition) -> str:
    """The condition in words, as traces and rationales show it."""
    if isinstance(condition, AllOf):
        return "(" + " and ".join(describe(c) for c in condition.all) + ")"
    if isinstance(condition, AnyOf):
        return "(" + " or ".join(describe(c) for c in condition.any) + ")"
    if isinstance(condition, NotOf):
        return f"not {describe(condition.not_)}"
    return _describe_comparison(condition)


def _describe_comparison(c: Comparison) -> str:
    if c.other is not None:
        reference = f"{c.other.factor:g} x {c.metric} {c.other.window}"
    elif c.budget is not None:
        reference = f"{c.budget:g} x daily budget"
    else:
        reference = f"{c.value:g}"
    evidence = f" with confidence {c.with_confidence:g}" if c.with_confidence is not None else ""
    return f"{c.metric} {c.window} {c.op} {reference}{evidence}"


def _observed(snapshot: Snapshot, entity: Entity, metric: str, window: str) -> float | None:
    """The observed metric; `budget` is the daily budget funding the entity now (the window is ignored)."""
    if metric == "budget":
        holder = budget_holder(snapshot, entity)
        return None if holder is None or holder.daily_budget is None else float(holder.daily_budget)
    rows = window_rows(snapshot, entity, window)
    if window == "today" and not rows:
        return None  # no partial rows pulled (a LinkedIn account, or none yet): no data, not zero spend
    return metric_value(metric, rows)


def _compare(snapshot: Snapshot, entity: Entity, c: Comparison, prior_conversions: float) -> ComparisonTrace:
    text, measure = _describe_comparison(c), f"{c.metric} {c.window}"
    value = _observed(snapshot, entity, c.metric, c.window)
    if c.other is not None:
        other = _observed(snapshot, entity, c.metric, c.other.window)
        reference = None if other is None or other == float("inf") else other * c.other.factor
    elif c.budget is not None:
        holder = budget_holder(snapshot, entity)
        reference = None if holder is None or holder.daily_budget is None else float(holder.daily_budget) * c.budget
    else:
        reference = c.value
    if value is None or reference is None:
        return ComparisonTrace(text, value, reference, False, note="no data" if value is None else "no reference",
                               measure=measure)
    holds = OPERATORS[c.op](value, reference)
    if c.with_confidence is None or not holds:
        return ComparisonTrace(text, value, reference, holds, measure=measure)
    probability = probability_holds(snapshot, entity, c.metric, c.window, c.op, reference, prior_conversions)
    if probability is None:
        return ComparisonTrace(text, value, reference, False, note="the posterior cannot tell", measure=measure)
    confident = probability >= c.with_confidence
    return ComparisonTrace(text, value, reference, confident, probability,
                           "" if confident else f"true value not proven: P = {probability:.3f}", measure)


def _holds(snapshot: Snapshot, entity: Entity, condition: Condition, prior_conversions: float,
           trace: list[ComparisonTrace]) -> bool:
    """Evaluates every comparison (each one is traced, even where the result is already known)."""
    if isinstance(condition, AllOf):
        return all([_holds(snapshot, entity, c, prior_conversions, trace) for c in condition.all])
    if isinstance(condition, AnyOf):
        return any([_holds(snapshot, entity, c, prior_conversions, trace) for c in condition.any])
    if isinstance(condition, NotOf):
        return not _holds(snapshot, entity, condition.not_, prior_conversions, trace)
    result = _compare(snapshot, entity, condition, prior_conversions)
    trace.append(result)
    return result.holds


def _number(value: float | None) -> str:
    return "none" if value is None else "infinite" if value == float("inf") else f"{value:,.4g}"


def _because(rule: Rule, comparisons: Sequence[ComparisonTrace]) -> str:
    values = "; ".join(f"{c.measure} = {_number(c.value)} vs {_number(c.reference)}"
                       + (f" (P = {c.probability:.3f})" if c.probability is not None else "")
                       for c in comparisons)
    return f"{describe(rule.when)}: {values}"


def is_due(rule: Rule, now_local: datetime, last_evaluated: date | None) -> bool:
    """Whether the rule's schedule has it evaluated in a cycle at `now_local` (account time)."""
    schedule = rule.schedule
    if any(action.kind == "ad_schedule" for action in rule.then):
        # its weekdays and hours are the window written into the platform, not when to evaluate it
        return schedule.daily_at is None or (now_local.time() >= schedule.daily_at
                                             and last_evaluated != now_local.date())
    if schedule.weekdays and WEEKDAYS[now_local.weekday()] not in schedule.weekdays:
        return False
    if schedule.hours and now_local.hour not in schedule.hours:
        return False
    if schedule.daily_at is not None:
        return now_local.time() >= schedule.daily_at and last_evaluated != now_local.date()
    return True


def in_scope(rule: Rule, snapshot: Snapshot, entity: Entity) -> bool:
    scope = rule.scope
    if scope.accounts and snapshot.account_id not in scope.accounts:
        return False
    if scope.platforms and snapshot.platform not in scope.platforms:
        return False
    if entity.level != scope.level or entity.status == "REMOVED":
        return False
    if scope.names and not any(fnmatch.fnmatchcase(entity.name, p) for p in scope.names):
        return False
    if scope.labels and not set(scope.labels) & set(entity.attributes.get("labels") or ()):
        return False
    if scope.campaigns:
        campaign = entity if entity.level == "campaign" else snapshot.entities.get(entity.parent_id or "")
        if campaign is None or not any(fnmatch.fnmatchcase(campaign.name, p) for p in scope.campaigns):
            return False
    return True


def period_start(period: str, today: date) -> date:
    if period == "day":
        return today
    if period == "week":
        return today - timedelta(days=today.weekday())
    return today.replace(day=1)


def _proposals(rule: Rule, snapshot: Snapshot, entity: Entity, because: str, evidence: Mapping[str, Any],
               budgets_changed: set[str]) -> tuple[list[Proposal], list[str]]:
    """The rule's actions on `entity` (budget actions on its budget holder, once per holder and
    evaluation: ad groups sharing a campaign budget move it once); and what was left out, why."""
    made: list[Proposal] = []
    skipped: list[str] = []
    policy = f"rule:{rule.name}"
    rationale = f"Rule {rule.name}: {because}."
    for action in rule.then:
        if action.kind == "pause":
            if entity.status != "ACTIVE":
                skipped.append("pause: already paused")
                continue
            made.append(Proposal.about(snapshot.account_id, entity, kind="pause", policy=policy,
                                       change=PAUSE_CHANGE, rationale=rationale, evidence=evidence))
        elif action.kind == "enable":
            if entity.status != "PAUSED":
                skipped.append("enable: already active")
                continue
            made.append(Proposal.about(snapshot.account_id, entity, kind="enable", policy=policy,
                                       change={"from": {"status": "PAUSED"}, "to": {"status": "ACTIVE"}},
                                       rationale=rationale, evidence=evidence))
        elif action.kind in ("set_budget", "change_budget_pct"):
            holder = budget_holder(snapshot, entity)
            if holder is None or holder.daily_budget is None:
                skipped.append(f"{action.kind}: no daily budget on the entity or its campaign")
                continue
            if holder.entity_id in budgets_changed:
                skipped.append(f"{action.kind}: the budget of {holder.entity_id} is already being changed")
                continue
            current = holder.daily_budget
            target = (action.amount if isinstance(action, SetBudget)
                      else current * (1 + Decimal(str(action.pct)) / 100) if isinstance(action, ChangeBudgetPct)
                      else current)
            before, after = money_str(current, snapshot.currency), money_str(target, snapshot.currency)
            if Decimal(after) == Decimal(before):
                skipped.append(f"{action.kind}: the budget is already {before}")
                continue
            budgets_changed.add(holder.entity_id)
            made.append(Proposal.about(snapshot.account_id, holder, kind="set_budget", policy=policy,
                                       change={"from": {"daily_budget": before}, "to": {"daily_budget": after}},
                                       rationale=rationale, evidence=evidence))
        elif isinstance(action, AddLabel):
            labels = entity.attributes.get("labels")
            if labels is None:
                skipped.append("add_label: the platform reports no labels here (LinkedIn has none)")
                continue
            if action.label in labels:
                skipped.append(f"add_label: already labelled {action.label!r}")
                continue
            made.append(Proposal.about(snapshot.account_id, entity, kind="add_label", policy=policy,
                                       change={"from": {"label": action.label, "labeled": False},
                                               "to": {"label": action.label, "labeled": True}},
                                       rationale=rationale, evidence=evidence))
        elif isinstance(action, AdSchedule):
            made += _schedule_proposal(rule, action, snapshot, entity, rationale, evidence, budgets_changed, skipped)
        elif isinstance(action, Notify):
            message = action.message or rationale
            made.append(Proposal.about(snapshot.account_id, entity, kind="notify", policy=policy,
                                       change={"message": message}, rationale=rationale, evidence=evidence))
    return made, skipped


def _schedule_proposal(rule: Rule, action: AdSchedule, snapshot: Snapshot, entity: Entity, rationale: str,
                       evidence: Mapping[str, Any], taken: set[str], skipped: list[str]) -> list[Proposal]:
    """`set_ad_schedule` on the entity's schedule holder (its campaign on Google), once per holder and
    evaluation; nothing when the platform already has that schedule or cannot take it."""
    holder = schedule_holder(snapshot, entity)
    if holder is None:
        skipped.append("ad_schedule: no campaign to hold the schedule")
        return []
    refusal = why_not(holder, action)
    if refusal is not None:
        skipped.append(f"ad_schedule: {refusal}")
        return []
    wanted = weekly_blocks(rule.schedule, action.bid_modifier)
    current = sorted_blocks(holder.attributes.get("ad_schedule") or [])
    if current == wanted:
        skipped.append("ad_schedule: already scheduled")
        return []
    if f"schedule:{holder.entity_id}" in taken:
        skipped.append(f"ad_schedule: the schedule of {holder.entity_id} is already being set")
        return []
    taken.add(f"schedule:{holder.entity_id}")
    return [Proposal.about(snapshot.account_id, holder, kind="set_ad_schedule", policy=f"rule:{rule.name}",
                           change={"from": {"ad_schedule": current}, "to": {"ad_schedule": wanted}},
                           rationale=rationale, evidence=evidence)]


def evaluate_rule(rule: Rule, snapshot: Snapshot, history: RuleHistory,
                  prior_conversions: float = DEFAULT_PRIOR_CONVERSIONS) -> tuple[list[Proposal], list[EntityTrace]]:
    """One rule over every entity in its scope (the caller checks the schedule)."""
    proposals: list[Proposal] = []
    traces: list[EntityTrace] = []
    budgets_changed: set[str] = set()
    for entity in sorted(snapshot.entities.values(), key=lambda e: e.entity_id):
        if not in_scope(rule, snapshot, entity):
            continue
        comparisons: list[ComparisonTrace] = []
        fired = _holds(snapshot, entity, rule.when, prior_conversions, comparisons)
        outcome = "condition false"
        if fired and rule.max_per_period is not None:
            since = period_start(rule.max_per_period.period, snapshot.today)
            count = sum(1 for day in history.firings.get((rule.name, entity.entity_id), ()) if day >= since)
            if count >= rule.max_per_period.count:
                fired = False
                outcome = f"held: fired {count} time(s) this {rule.max_per_period.period} (max_per_period)"
        if fired:
            evidence = {"rule": rule.name, "rule_entity": entity.entity_id, "rule_dry_run": rule.dry_run,
                        "conditions": [c.as_dict() for c in comparisons]}
            made, skipped = _proposals(rule, snapshot, entity, _because(rule, comparisons), evidence,
                                       budgets_changed)
            proposals += made
            kinds = ", ".join(p.kind for p in made) or "nothing to do"
            outcome = f"fired: {kinds}" + (f" ({'; '.join(skipped)})" if skipped else "")
            outcome += " [dry-run]" if rule.dry_run and made else ""
        traces.append(EntityTrace(rule.name, entity.entity_id, entity.name, fired, outcome, tuple(comparisons)))
    return proposals, traces


def evaluate_rules(snapshot: Snapshot, rules: Sequence[Rule], now_local: datetime, history: RuleHistory,
                   prior_conversions: float = DEFAULT_PRIOR_CONVERSIONS) -> RuleEvaluation:
    """Every enabled rule that is due at `now_local` (account time), over the account's snapshot."""
    proposals: list[Proposal] = []
    traces: dict[str, list[EntityTrace]] = {}
    for rule in rules:
        if not rule.enabled or not is_due(rule, now_local, history.last_evaluated.get(rule.name)):
            continue
        if rule.scope.accounts and snapshot.account_id not in rule.scope.accounts:
            continue
        made, traced = evaluate_rule(rule, snapshot, history, prior_conversions)
        proposals += made
        traces[rule.name] = traced
    return RuleEvaluation(proposals, traces)


def is_rule_dry_run(proposal: Proposal) -> bool:
    """A proposal of a rule set to `dry_run: true`: reported as what it would do, never executed."""
    return proposal.policy.startswith("rule:") and bool(proposal.evidence.get("rule_dry_run"))
