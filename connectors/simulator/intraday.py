"""Today's partial rows in the simulated world: what a platform reporting intraday shows at this hour.

The simulation is daily, so today's row so far is the day's whole row (as it will be, changes made
today included) times the share of the local day that has passed. Crude within a day, but a partial
row behaves as the platforms' do: it grows through the day, and the complete row replaces it later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from connectors.records import MetricRow, quantize_money
from connectors.simulator.dynamics import AppliedMutation, simulate
from connectors.simulator.world import World


def day_share(local_now: datetime) -> float:
    """The share of the local day passed at `local_now` (0 at midnight, just under 1 at 23:59)."""
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    return (local_now - midnight) / timedelta(days=1)


def partial_rows(world: World, applied: Sequence[AppliedMutation], account_id: str,
                 local_now: datetime) -> list[MetricRow]:
    """The account's rows of its local today so far."""
    today = local_now.date()
    if today < world.start:
        return []
    share = day_share(local_now)
    whole = [m for m in simulate(world, applied, today + timedelta(days=1)).metrics
             if m.account_id == account_id and m.day == today]
    factor = Decimal(str(round(share, 6)))
    return [replace(m, spend=quantize_money(m.spend * factor, m.currency), impressions=int(m.impressions * share),
                    clicks=int(m.clicks * share), conversions=round(m.conversions * share, 4),
                    conversion_value=quantize_money(m.conversion_value * factor, m.currency),
                    reach=None if m.reach is None else int(m.reach * share))
            for m in whole]
