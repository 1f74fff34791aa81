"""Currency handling for the simulator: rough exchange rates and round budgets (minor units:
`connectors/records.py`).

Internally the simulator counts money in integer minor units (cents, or whole yen) so that splitting
an ad set's spend among its ads or search terms adds up exactly; `Decimal` is made only at the edge.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from connectors.records import quantize_money

# Units of the currency per US dollar, only to give budgets and prices a plausible size.
UNITS_PER_USD: dict[str, float] = {
    "USD": 1.0,
    "EUR": 0.92,
    "GBP": 0.79,
    "JPY": 150.0,
    "KRW": 1350.0,
    "CAD": 1.36,
    "AUD": 1.52,
    "CHF": 0.88,
    "SEK": 10.5,
    "NOK": 10.6,
    "DKK": 6.9,
    "INR": 83.0,
    "BRL": 5.0,
    "MXN": 17.0,
}


def units_per_usd(currency: str) -> float:
    """How many units of `currency` buy one US dollar (1.0 for currencies we do not list)."""
    return UNITS_PER_USD.get(currency.upper(), 1.0)


def nice_budget(amount_usd: float, currency: str) -> Decimal:
    """A round daily budget near `amount_usd` converted to `currency` (what a person would type)."""
    local = amount_usd * units_per_usd(currency)
    magnitude = 10 ** max(0, int(np.floor(np.log10(max(local, 1.0)))) - 1)
    step = magnitude * 5 if local / magnitude >= 50 else magnitude
    rounded = max(step, round(local / step) * step)
    return quantize_money(Decimal(rounded), currency)
