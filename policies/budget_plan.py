"""Budget plans: set_budget legs that move money between holders and only make sense together.

A reallocation takes money from some holders and gives it to others; the account's total daily
budget is the plan's total, and it holds only if every leg runs. Each leg's proposal carries the
plan in its evidence (`evidence["plan"]`: id, legs, total) so that the gate and the executor can
keep the legs together (agent/decisions/budget_plans.py).

Amounts: the legs are computed in Decimal; each new budget is rounded to the currency's minor unit
toward the holder's current budget (a leg never moves more than it was meant to), and what the
rounding left over (a few minor units at most) goes to one leg that has room for it within its
caps, so the legs add up to the plan's total exactly. JPY and the like have no minor unit below 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from connectors.records import minor_unit, quantize_money
from policies.base import Proposal
from policies.money import money_str

PLAN_KEY = "plan"


@dataclass(frozen=True)
class Leg:
    """One holder's part of a plan: its budget now, the exact budget the plan gives it, and the
    lowest and highest budget its caps allow (floor, per-change cap, ceiling)."""

    entity_id: str
    before: Decimal
    exact_after: Decimal
    lowest: Decimal
    highest: Decimal


def _toward_before(leg: Leg, currency: str) -> Decimal:
    rounding = ROUND_FLOOR if leg.exact_after >= leg.before else ROUND_CEILING
    return leg.exact_after.quantize(minor_unit(currency), rounding=rounding)


def plan_total(legs: Sequence[Leg], currency: str) -> Decimal:
    """The plan's total daily budget over its legs, in the currency's minor units."""
    return quantize_money(sum((leg.exact_after for leg in legs), Decimal(0)), currency)


def round_legs(legs: Sequence[Leg], currency: str) -> dict[str, Decimal] | None:
    """Each leg's new budget in minor units, adding up to `plan_total` exactly: rounded toward the
    current budget, the residual on one leg within its caps (a leg moving the same way first, then
    the one with the most room). None if no leg, nor all of them together, can take the residual
    (the plan is then not proposed)."""
    unit = minor_unit(currency)
    afters = {leg.entity_id: _toward_before(leg, currency) for leg in legs}
    residual = plan_total(legs, currency) - sum(afters.values(), Decimal(0))
    if residual == 0:
        return afters

    def room(leg: Leg) -> Decimal:
        after = afters[leg.entity_id]
        limit = leg.highest if residual > 0 else leg.lowest
        return max((limit - after) if residual > 0 else (after - limit), Decimal(0)).quantize(
            unit, rounding=ROUND_FLOOR)

    def same_direction(leg: Leg) -> bool:
        return (leg.exact_after - leg.before > 0) == (residual > 0)

    ranked = sorted(legs, key=lambda leg: (not same_direction(leg), -room(leg), leg.entity_id))
    left = abs(residual)
    for leg in ranked:  # one leg in practice: the residual is a few minor units
        take = min(room(leg), left)
        if take > 0:
            afters[leg.entity_id] += take if residual > 0 else -take
            left -= take
        if left == 0:
            return afters
    return None


def _plain(amount: Decimal) -> str:
    """One spelling per amount (120, 120.0 and 120.00 alike)."""
    return format(amount.normalize(), "f")


def plan_id(account_id: str, today: date, legs: Mapping[str, tuple[Decimal, Decimal]]) -> str:
    """A stable id for one plan: the same account, day and legs give the same id (a re-run of the
    day proposes the same plan, which the gate then recognises as already recorded)."""
    material = json.dumps([account_id, today.isoformat(),
                           sorted((entity, _plain(before), _plain(after)) for entity, (before, after) in legs.items())])
    return "plan-" + hashlib.sha256(material.encode()).hexdigest()[:16]


def plan_of(evidence: Mapping[str, Any] | None) -> str | None:
    """The id of the plan a proposal's (or an action's) evidence says it is a leg of, if any."""
    plan = (evidence or {}).get(PLAN_KEY)
    return str(plan["id"]) if isinstance(plan, Mapping) and plan.get("id") else None


def plan_evidence(account_id: str, today: date, currency: str, legs: Sequence[Leg],
                  afters: Mapping[str, Decimal]) -> dict[str, Any]:
    """What each leg's proposal carries under `evidence["plan"]`."""
    total_before = sum((leg.before for leg in legs), Decimal(0))
    return {
        "id": plan_id(account_id, today, {leg.entity_id: (leg.before, afters[leg.entity_id]) for leg in legs}),
        "legs": sorted(leg.entity_id for leg in legs),
        "total_before": money_str(total_before, currency),
        "total": money_str(sum(afters.values(), Decimal(0)), currency),
        "currency": currency,
    }


def joint_plan(proposals: Sequence[Proposal], account_id: str, today: date, currency: str) -> list[Proposal]:
    """The day's budget moves (reallocation legs, paced budgets, both merged) as the legs of one plan:
    pacing and reallocation are one decision about the account's budgets, run together or not at
    all, never two that undo each other. A single move stays a plain proposal."""
    moves = [p for p in proposals if p.kind == "set_budget"]
    if len(moves) < 2:
        return [dataclasses.replace(p, evidence={k: v for k, v in p.evidence.items() if k != PLAN_KEY})
                for p in proposals]
    afters = {p.entity_id: Decimal(str(p.change["to"]["daily_budget"])) for p in moves}
    legs = [Leg(p.entity_id, Decimal(str(p.change["from"]["daily_budget"])), afters[p.entity_id],
                afters[p.entity_id], afters[p.entity_id]) for p in moves]
    plan = plan_evidence(account_id, today, currency, legs, afters)
    return [dataclasses.replace(p, evidence={**p.evidence, PLAN_KEY: plan}) if p.kind == "set_budget" else p
            for p in proposals]
