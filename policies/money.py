"""Money helpers for policies: every amount a policy proposes is rounded to the currency's minor unit."""

from __future__ import annotations

from decimal import Decimal

from connectors.records import floor_money, minor_unit, quantize_money

__all__ = ["floor_money", "minor_unit", "money_str", "quantize_money"]


def money_str(amount: Decimal, currency: str) -> str:
    """Evidence form of an amount: a string with the currency's decimals."""
    return str(quantize_money(amount, currency))
