"""Money helpers for policies: every amount a policy proposes is rounded to the currency's minor unit."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

# ISO 4217 currencies without a minor unit that ad platforms bill in.
_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "VND", "ISK", "HUF", "TWD", "UGX", "PYG"})


def minor_unit(currency: str) -> Decimal:
    """The smallest amount proposed in `currency`: 1 for JPY/KRW (and kin), 0.01 otherwise."""
    return Decimal(1) if currency.upper() in _ZERO_DECIMAL_CURRENCIES else Decimal("0.01")


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def floor_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded down to the minor unit (so a capped move never exceeds its cap)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_FLOOR)


def money_str(amount: Decimal, currency: str) -> str:
    """Evidence form of an amount: a string with the currency's decimals."""
    return str(quantize_money(amount, currency))
