"""Guardrails: limits that hold whatever a policy proposes or a human approves.

Pure functions of the proposed change, the entity, the account's recent executed changes and the
settings. The gate calls them when deciding; the executor calls them again right before applying,
with the live entity and everything executed since.

A violation is `block` (never execute: protected entity, a cap, a cooldown, a platform limit),
`review` (not automatically: a human must approve: low confidence, too many actions this cycle)
or `hold` (not now: kill switch, freeze window; an approved action waits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from agent.decisions.segment_actions import SEGMENT_KINDS
from agent.settings import GuardrailSettings
from agent.storage.action_states import ExecutedChange
from connectors.records import Entity

Severity = Literal["block", "review", "hold"]
BUDGET_KIND = "set_budget"
# Changes of an entity's state; a cooldown keeps them from flip-flopping. Additive changes (a new
# ad, a negative list, an audience exclusion) neither start nor respect a cooldown: repeats of
# the same one are caught as duplicates instead.
STATE_KINDS = frozenset({"pause", "enable", "set_budget"})
# A setting of the entity itself (Google's ad rotation of an ad group): its `from` and `to` describe
# the live entity, so the drift check applies, but it neither starts nor respects a cooldown (a
# copy test's even rotation must not delay the ad group's own pause or budget change).
ROTATION_KIND = "set_ad_rotation"
LIVE_STATE_KINDS = STATE_KINDS | {ROTATION_KIND}


@dataclass(frozen=True)
class Violation:
    rule: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class GuardrailContext:
    """What the checks need to know besides the change itself."""

    now: datetime
    timezone: str
    entities: Mapping[str, Entity]
    history: Sequence[ExecutedChange]
    protected: frozenset[str] = frozenset()
    kill_switch: bool = False
    automatic_actions_this_cycle: int = 0


def budget_of(change: Mapping[str, Any], side: str) -> Decimal:
    return Decimal(str(change[side]["daily_budget"]))


def _ancestors(entity_id: str, entities: Mapping[str, Entity]) -> list[str]:
    chain, current = [], entities.get(entity_id)
    while current is not None and current.parent_id:
        chain.append(current.parent_id)
        current = entities.get(current.parent_id)
    return chain


def _local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


def _budget_violations(
    entity_id: str, change: Mapping[str, Any], settings: GuardrailSettings, ctx: GuardrailContext
) -> list[Violation]:
    violations: list[Violation] = []
    before, after = budget_of(change, "from"), budget_of(change, "to")
    if before <= 0 or after <= 0:
        return [Violation("budget_positive", "block", f"budgets must be positive (from {before} to {after})")]
    step = abs(after - before)
    step_pct = float(step / before * 100)
    # Exact: the limit is the platforms' learning threshold, and 20.00000000000004% is over it.
    if step * 100 > before * Decimal(str(settings.max_budget_change_pct)):
        violations.append(Violation("max_budget_change_pct", "block",
                                    f"change of {step_pct:.1f}% exceeds the {settings.max_budget_change_pct:g}% "
                                    "limit per change"))
    if settings.max_budget_change_abs is not None and step > settings.max_budget_change_abs:
        violations.append(Violation("max_budget_change_abs", "block",
                                    f"change of {step} exceeds the {settings.max_budget_change_abs} limit per change"))
    today = _local(ctx.now, ctx.timezone).date()
    earlier_today = sorted(
        (c for c in ctx.history
         if c.entity_id == entity_id and c.kind == BUDGET_KIND and _local(c.at, ctx.timezone).date() == today),
        key=lambda c: c.at,
    )
    day_start = budget_of(earlier_today[0].change, "from") if earlier_today else before
    moved_today = sum((abs(budget_of(c.change, "to") - budget_of(c.change, "from")) for c in earlier_today),
                      Decimal(0)) + step
    moved_pct = float(moved_today / day_start * 100) if day_start > 0 else float("inf")
    if day_start <= 0 or moved_today * 100 > day_start * Decimal(str(settings.max_daily_budget_change_pct)):
        violations.append(Violation("max_daily_budget_change_pct", "block",
                                    f"changes today would move this budget by {moved_pct:.1f}% in total, over the "
                                    f"{settings.max_daily_budget_change_pct:g}% daily limit"))
    if settings.max_daily_budget_change_abs is not None and moved_today > settings.max_daily_budget_change_abs:
        violations.append(Violation("max_daily_budget_change_abs", "block",
                                    f"changes today would move this budget by {moved_today} in total, over the "
                                    f"{settings.max_daily_budget_change_abs} daily limit"))
    last_hour = [c for c in ctx.history if c.entity_id == entity_id and c.kind == BUDGET_KIND
                 and c.at > ctx.now - timedelta(hours=1)]
    if len(last_hour) >= settings.budget_changes_per_hour:
        violations.append(Violation("budget_changes_per_hour", "block",
                                    f"{len(last_hour)} budget changes in the last hour; the platform allows "
                                    f"{settings.budget_changes_per_hour}"))
    if after > before:
        violations += _cap_violations(entity_id, after, settings, ctx)
    return violations


def _shared_budget_violations(entity_id: str, ctx: GuardrailContext) -> list[Violation]:
    """A budget several campaigns share (Google's `explicitly_shared` campaign budgets) cannot be
    changed for one of them: the change would move every campaign that uses it."""
    entity = ctx.entities.get(entity_id)
    attributes = entity.attributes if entity is not None else {}
    if not attributes.get("budget_shared"):
        return []
    budget = str(attributes.get("budget_name") or attributes.get("budget_resource") or "").rsplit("/", 1)[-1]
    users = int(attributes.get("budget_campaigns") or 0)
    shared_by = f"shared by {users} campaigns" if users > 1 else "a shared budget"
    return [Violation("shared_budget", "block",
                      f"budget {budget!r} is {shared_by}: changing it for campaign {entity_id} would move every "
                      "campaign that uses it; give the campaign its own budget or change the shared one by hand")]


def _cap_violations(entity_id: str, after: Decimal, settings: GuardrailSettings,
                    ctx: GuardrailContext) -> list[Violation]:
    """Raising a budget must keep the account's and the campaign's total daily budget under their caps."""
    def total(holders: Sequence[Entity]) -> Decimal:
        return sum(((after if e.entity_id == entity_id else (e.daily_budget or Decimal(0)))
                    for e in holders if e.status == "ACTIVE" or e.entity_id == entity_id), Decimal(0))

    holders = [e for e in ctx.entities.values() if e.daily_budget is not None]
    violations: list[Violation] = []
    if settings.account_daily_budget_cap is not None:
        account_total = total(holders)
        if account_total > settings.account_daily_budget_cap:
            violations.append(Violation("account_daily_budget_cap", "block",
                                        f"account daily budgets would total {account_total}, over the cap "
                                        f"{settings.account_daily_budget_cap}"))
    for campaign_id, cap in settings.campaign_daily_budget_caps.items():
        in_campaign = [e for e in holders if e.entity_id == campaign_id or e.parent_id == campaign_id]
        if any(e.entity_id == entity_id for e in in_campaign):
            campaign_total = total(in_campaign)
            if campaign_total > cap:
                violations.append(Violation("campaign_daily_budget_cap", "block",
                                            f"campaign {campaign_id} daily budgets would total {campaign_total}, "
                                            f"over the cap {cap}"))
    return violations


def _segment_violations(kind: str, entity_id: str, change: Mapping[str, Any], evidence: Mapping[str, Any],
                       policy: str, settings: GuardrailSettings, ctx: GuardrailContext) -> list[Violation]:
    """The segment guardrails: one cut may take at most `max_segment_delivery_share` of the ad
    set's delivery (of the campaign's, for a campaign-level cut: `scope` "campaign" in its evidence), and an ad set gets one segment change per cooldown, whatever its lever (the
    breakdowns must show the first cut's effect, on every dimension, before the next is judged).
    An undo is never held back."""
    if kind not in SEGMENT_KINDS or policy == "undo":
        return []
    violations: list[Violation] = []
    cutting = bool(change.get("to", {}).get("excluded"))
    share = evidence.get("spend_share")
    if cutting and not isinstance(share, (int, float)):  # None, or not a number
        violations.append(Violation("max_segment_delivery_share", "block",
                                    "the proposal does not say which share of the ad set's delivery it cuts"))
    elif cutting and isinstance(share, (int, float)) and share > settings.max_segment_delivery_share:
        whose = "the campaign's" if evidence.get("scope") == "campaign" else "the ad set's"  # Google's locations
        violations.append(Violation("max_segment_delivery_share", "block",
                                    f"cutting {change['to'].get('dimension')} {change['to'].get('segment')} would "
                                    f"take {share:.0%} of {whose} delivery, over the "
                                    f"{settings.max_segment_delivery_share:.0%} limit per change"))
    cooldown = settings.cooldown_for(kind)
    recent = [c for c in ctx.history if c.entity_id == entity_id and c.kind in SEGMENT_KINDS
              and c.at > ctx.now - timedelta(hours=cooldown)]
    if recent:
        last = max(recent, key=lambda c: c.at)
        violations.append(Violation("cooldown", "block",
                                    f"changed ({last.kind}) at {last.at:%Y-%m-%d %H:%M} UTC, within the "
                                    f"{cooldown:g} h cooldown"))
    return violations


def check(
    *,
    kind: str,
    entity_id: str,
    change: Mapping[str, Any],
    evidence: Mapping[str, Any],
    policy: str,
    settings: GuardrailSettings,
    ctx: GuardrailContext,
) -> list[Violation]:
    """Every guardrail the change would break, most serious first."""
    violations: list[Violation] = []
    protected = {entity_id, *_ancestors(entity_id, ctx.entities)} & ctx.protected
    if protected:
        violations.append(Violation("protected_entity", "block",
                                    f"{', '.join(sorted(protected))} is protected and is never touched"))
    if policy != "undo" and kind in STATE_KINDS:
        cooldown = settings.cooldown_for(kind)
        # A pause outranks an earlier budget change: a loser's budget cut must not delay its pause.
        waits_for = STATE_KINDS - {BUDGET_KIND} if kind == "pause" else STATE_KINDS
        recent = [c for c in ctx.history if c.entity_id == entity_id and c.kind in waits_for
                  and c.at > ctx.now - timedelta(hours=cooldown)]
        if recent:
            last = max(recent, key=lambda c: c.at)
            violations.append(Violation("cooldown", "block",
                                        f"changed ({last.kind}) at {last.at:%Y-%m-%d %H:%M} UTC, within the "
                                        f"{cooldown:g} h cooldown"))
    violations += _segment_violations(kind, entity_id, change, evidence, policy, settings, ctx)
    if kind == BUDGET_KIND:
        violations += _shared_budget_violations(entity_id, ctx) + _budget_violations(entity_id, change, settings, ctx)
    confidence = evidence.get("confidence")
    if isinstance(confidence, (int, float)) and confidence < settings.min_confidence:
        violations.append(Violation("min_confidence", "review",
                                    f"policy confidence {confidence:.2f} is below {settings.min_confidence:.2f}"))
    if ctx.automatic_actions_this_cycle >= settings.max_actions_per_cycle:
        violations.append(Violation("max_actions_per_cycle", "review",
                                    f"{settings.max_actions_per_cycle} automatic actions this cycle already"))
    local_now = _local(ctx.now, ctx.timezone).replace(tzinfo=None)
    for window in settings.freeze_windows:
        if window.start <= local_now < window.end:
            violations.append(Violation("freeze_window", "hold",
                                        f"freeze window {window.start:%Y-%m-%d %H:%M}..{window.end:%Y-%m-%d %H:%M}"
                                        + (f" ({window.reason})" if window.reason else "")))
    if ctx.kill_switch:
        violations.append(Violation("kill_switch", "hold", "the kill switch is on: no execution"))
    order = {"block": 0, "hold": 1, "review": 2}
    return sorted(violations, key=lambda v: order[v.severity])
