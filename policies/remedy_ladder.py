"""The remedy ladder: a cut back toward the last profitable budget before any pause.

Returns fall as a budget grows (diminishing returns), so an ad set that was profitable at 800 a day
can be a loser at 2,600 without being a loser at all: its remedy is the budget it earned money at,
not a pause. The underperformers' verdict says "below target over the window"; the ladder asks, from
the ad set's own budget history (`snapshot.recent_budget_moves`), whether that is true at any budget:

- rung 1, **cut back**: the ad set was scaled up (its current budget is at least `min_scale_up_pct`
  above an earlier level that still falls in the window) and at the most recent such earlier level
  it was not a loser (posterior P(ROAS < target) over those days below `earlier_loser_probability`,
  with at least `min_level_days` days of delivery there). The cut goes toward that budget, bounded by
  the per-change limit (policies/budget_limits.py) and never below the evidence floor;
- rung 2, **pause**: it was never scaled up within the window, or it was a loser at its earlier
  budget too (or that level ran too few days to say), so no budget we know of makes it pay;
- **hold**: it has already been cut back to a level at which it was profitable before: the window
  still holds its days at the higher budget, so the verdict is not about this budget; it is judged
  again as those days leave the window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from policies.base import BudgetMove, Proposal, Snapshot
from policies.budget_holders import budget_change
from policies.budget_limits import bounded_budget
from policies.money import money_str
from policies.settings import RemedyLadderSettings

RUNG_CUT = "cut back toward the last profitable budget"
RUNG_PAUSE = "pause"


@dataclass(frozen=True)
class BudgetLevel:
    """Days an ad set ran at one daily budget (`first..last`, inclusive)."""

    budget: Decimal
    first: date
    last: date


@dataclass(frozen=True)
class LadderStep:
    """What the ladder makes of a pause verdict: `proposal` is the pause, a cut or None (hold)."""

    rung: str  # "cut", "pause" or "hold"
    proposal: Proposal | None
    earlier: BudgetLevel | None = None
    p_below_earlier: float | None = None


def budget_levels(moves: list[BudgetMove], current: Decimal, start: date, end: date) -> list[BudgetLevel]:
    """The budgets an ad set ran at over `start..end`, oldest first, from its executed moves (a move's
    day is the first day at its new budget); the last level is the current budget."""
    ordered = sorted((m for m in moves if m.day <= end + timedelta(days=1)), key=lambda m: m.day)
    levels: list[BudgetLevel] = []
    first = start
    for move in ordered:
        if move.day > first:
            levels.append(BudgetLevel(move.before, first, min(move.day - timedelta(days=1), end)))
            first = move.day
        elif levels:
            levels[-1] = dataclasses.replace(levels[-1], budget=move.before)
    if first <= end:
        levels.append(BudgetLevel(ordered[-1].after if ordered else current, first, end))
    return [level for level in levels if level.last >= start]


def apply_ladder(snapshot: Snapshot, pause: Proposal, window: tuple[date, date], settings: RemedyLadderSettings,
                 p_below: Callable[[date, date], tuple[float, int]], limit: Decimal,
                 floor: Decimal = Decimal(0)) -> LadderStep:
    """The ladder's step for an underperformers `pause` of an ad set that holds its own budget.

    `p_below(first, last)` is the posterior P(ROAS < target) over those days and their number of
    delivery days after learning (the underperformers' own model, so the rungs use one test);
    `limit` the largest relative budget change (policies/budget_limits.py)."""
    entity = snapshot.entities[pause.entity_id]
    current = entity.daily_budget
    if not settings.enabled or current is None or current <= 0:
        return LadderStep("pause", _rung_pause(pause, "it holds no budget of its own to cut"))
    levels = budget_levels(list(snapshot.recent_budget_moves.get(pause.entity_id, ())), current, *window)
    scale = Decimal(1) + Decimal(str(settings.min_scale_up_pct))
    for level in reversed(levels[:-1]):
        if level.budget * scale > current and level.budget < current:
            continue  # not a material scale-up from here: look further back
        p, days = p_below(level.first, level.last)
        profitable = days >= settings.min_level_days and p < settings.earlier_loser_probability
        if level.budget >= current:
            if profitable and level.budget <= current * scale:
                return LadderStep("hold", None, level, p)  # back at a budget it paid at
            continue
        if not profitable:
            why = (f"it was a loser at its earlier budget too ({money_str(level.budget, snapshot.currency)} a day "
                   f"over {level.first}..{level.last}: P(ROAS < target) = {p:.0%})" if days >= settings.min_level_days
                   else f"its earlier budget ({money_str(level.budget, snapshot.currency)} a day) ran only "
                   f"{days} days, too few to show it paid there")
            return LadderStep("pause", _rung_pause(pause, why), level, p)
        return LadderStep("cut", _rung_cut(snapshot, pause, current, level, p, limit, floor), level, p)
    return LadderStep("pause", _rung_pause(pause, "it was not scaled up within the window: no budget we "
                                                  "know of makes it pay"))


def _rung_pause(pause: Proposal, why: str) -> Proposal:
    return dataclasses.replace(
        pause, rationale=f"{pause.rationale} Remedy ladder, rung 2 of 2 (pause): {why}.",
        evidence={**pause.evidence, "remedy_ladder": {"rung": RUNG_PAUSE, "why": why}})


def _rung_cut(snapshot: Snapshot, pause: Proposal, current: Decimal, level: BudgetLevel, p: float,
              limit: Decimal, floor: Decimal) -> Proposal:
    currency = snapshot.currency
    after = bounded_budget(current, max(level.budget, floor), limit, currency)
    why = (f"it was scaled up from {money_str(level.budget, currency)} to {money_str(current, currency)} a day and "
           f"paid at the lower budget ({level.first}..{level.last}: P(ROAS < target) = {p:.0%}), so the loss is "
           f"the scale-up's: {money_str(current, currency)} -> {money_str(after, currency)} {currency} now "
           f"(at most {limit:.1%} per change), a pause only if it loses at that budget too")
    return dataclasses.replace(
        pause, kind="set_budget", change=budget_change(current, after, currency),
        rationale=f"{pause.rationale} Remedy ladder, rung 1 of 2 ({RUNG_CUT}): {why}.",
        evidence={**pause.evidence, "remedy_ladder": {
            "rung": RUNG_CUT, "last_profitable_budget": money_str(level.budget, currency),
            "profitable_days": [level.first.isoformat(), level.last.isoformat()],
            "p_roas_below_target_at_that_budget": round(p, 4)}})
