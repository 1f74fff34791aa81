"""Hysteresis against budget churn: what the budget policies may still do to one holder.

Daily re-optimisation chases noise near the donor/receiver boundary: small moves, and a raise
undoing last week's cut. So a budget policy proposes no move below the materiality threshold
(`min_change_pct` of the budget and `min_change_amount`), no reversal of the holder's last budget
move within `reversal_days` unless the evidence flips decisively (the policy says what that means),
and at most `max_changes_per_week` budget moves per holder in 7 days. The history comes from the
snapshot's `recent_budget_moves` (the agent's executed budget changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from policies.base import Snapshot
from policies.settings import BudgetChurnSettings


@dataclass(frozen=True)
class ChurnState:
    """One holder's recent budget moves, as hysteresis reads them."""

    moves_this_week: int
    recently_raised: bool  # its last move, within `reversal_days`, was a raise: no cut
    recently_cut: bool  # ... a cut: no raise

    def saturated(self, settings: BudgetChurnSettings) -> bool:
        return self.moves_this_week >= settings.max_changes_per_week


def churn_state(snapshot: Snapshot, entity_id: str, settings: BudgetChurnSettings) -> ChurnState:
    moves = [m for m in snapshot.recent_budget_moves.get(entity_id, ()) if m.day <= snapshot.today]
    week = sum(1 for m in moves if m.day > snapshot.today - timedelta(days=7))
    last = sorted(moves, key=lambda m: m.day)[-1] if moves else None  # stable: the day's last move
    recent = last is not None and last.day > snapshot.today - timedelta(days=settings.reversal_days) \
        and last.after != last.before
    return ChurnState(week, recent and last is not None and last.raised,
                      recent and last is not None and not last.raised)


def smallest_move(budget: Decimal, settings: BudgetChurnSettings) -> Decimal:
    """The smallest material move of `budget`."""
    return max(settings.min_change_amount, budget * Decimal(str(settings.min_change_pct)))
