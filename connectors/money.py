"""Currency units, shared by every connector, the simulator and the policies.

One list of currencies without a minor unit, so a connector converting a platform's minor units,
the simulator making budgets and a policy rounding a proposal all agree on what "one cent" is.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

# ISO 4217 currencies without a minor unit, and those ad platforms bill without one (HUF, TWD on Meta).
ZERO_DECIMAL_CURRENCIES: frozenset[str] = frozenset(
    {"JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "HUF", "TWD"}
)


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point in `currency` (2, or 0 for JPY/KRW and the like)."""
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency`: 0.01, or 1 for zero-decimal currencies."""
    return Decimal(1).scaleb(-minor_unit_exponent(currency))


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def floor_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded down to the minor unit (so a capped move never exceeds its cap)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_FLOOR)
