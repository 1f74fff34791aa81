"""Money in each currency's minor units; times in the account's zone, to the minute, with its name."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from agent.console.charts import nice_ticks
from agent.console.formatting import local_time, money


def test_money_uses_the_currency_minor_unit() -> None:
    assert money(Decimal("1234.5"), "EUR") == "1,234.50 EUR"
    assert money(Decimal("98765.4"), "JPY") == "98,765 JPY"
    assert money("0.005", "USD") == "0.01 USD"
    assert money(None, "USD") == "–"


def test_times_are_local_to_the_minute_with_the_zone() -> None:
    moment = datetime(2026, 11, 23, 12, 0, 7, 123456, tzinfo=UTC)
    assert local_time(moment, "Europe/Berlin") == "2026-11-23 13:00 CET"
    assert local_time(moment, "Asia/Tokyo") == "2026-11-23 21:00 JST"
    assert local_time(moment.replace(tzinfo=None), "UTC") == "2026-11-23 12:00 UTC"  # SQLite's naive UTC


def test_chart_axis_ticks_are_round_and_cover_the_data() -> None:
    assert nice_ticks(0, 1430) == [0, 500, 1000, 1500]
    ticks = nice_ticks(0, 6.4)
    assert ticks[0] == 0 and ticks[-1] >= 6.4 and len(ticks) <= 6
