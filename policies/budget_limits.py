"""How far one budget change may go: a margin below the platforms' learning threshold, in exact
Decimal, rounded toward the current budget.

Platforms restart an ad set's learning when its budget moves by more than about 20% (Meta) and
our guardrail blocks moves above `max_budget_change_pct`. A move computed right at that edge can
land above it by rounding (342.43 * 1.2 = 410.916, rounded half-up to 410.92, is 20.001%), so every
budget policy aims `margin` below the limit (`max_change_pct - learning_margin_pct`, 19.5% by
default), clamps in Decimal, and rounds the result to the currency's minor unit toward the current
budget: the rounded move is never larger than the exact one, so it never crosses the limit.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from connectors.records import minor_unit


def change_limit(max_change_pct: float, learning_margin_pct: float) -> Decimal:
    """The largest relative move a policy proposes: the threshold minus the margin (fractions)."""
    return max(Decimal(str(max_change_pct)) - Decimal(str(learning_margin_pct)), Decimal(0))


def round_toward(before: Decimal, after: Decimal, currency: str) -> Decimal:
    """`after` in the currency's minor unit, rounded toward `before` (the move only shrinks)."""
    rounding = ROUND_FLOOR if after >= before else ROUND_CEILING
    return after.quantize(minor_unit(currency), rounding=rounding)


def bounded_budget(before: Decimal, target: Decimal, limit: Decimal, currency: str) -> Decimal:
    """`target` clamped to `before` +/- `limit` (a fraction of `before`), rounded toward `before`."""
    lowest, highest = before * (1 - limit), before * (1 + limit)
    return round_toward(before, min(max(target, lowest), highest), currency)
