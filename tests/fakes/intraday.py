"""Metric reports that reach into the account's current day, as Google's and Meta's do: complete days
from the simulator, plus today's partial rows when the range includes today (the simulator's
`intraday_metrics`, connectors/simulator/intraday.py)."""

from __future__ import annotations

from datetime import date

from connectors.records import MetricRow
from connectors.simulator.connector import SimulatorConnector


def with_today(simulator: SimulatorConnector, sim_account: str, start: date, end: date) -> list[MetricRow]:
    rows = list(simulator.daily_metrics(sim_account, start, end))
    today = simulator.local_today(sim_account)
    if start <= today <= end:
        rows += simulator.intraday_metrics(sim_account, today)
    return rows
