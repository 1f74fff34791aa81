"""How numbers and times read on the console: money in its currency's minor units, times in a zone."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from connectors.records import minor_unit_exponent, quantize_money


def money(amount: Decimal | float | int | str | None, currency: str) -> str:
    """`1,234.50 EUR`, `98,765 JPY`: grouped, with exactly the currency's decimals."""
    if amount is None or amount == "":
        return "–"
    value = quantize_money(Decimal(str(amount)), currency)
    return f"{value:,.{minor_unit_exponent(currency)}f} {currency}"


def ratio(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def percent_change(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return (now - before) / before * 100


def signed_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:+.0f}%"


def local_time(moment: datetime | None, timezone: str) -> str:
    """`2026-11-23 13:00 CET`: minutes, the zone's abbreviation, no microseconds."""
    if moment is None:
        return "–"
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
