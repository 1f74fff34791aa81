"""The lowest daily budget at which the pause test can still prove a clear loser.

A budget cut below it leaves a loser running at a trickle that the evidence can never condemn (the
issue's "cut to about 5 a day, never paused"). So budget policies do not cut below it; only a pause
takes an ad set lower.

Derivation: a clear loser has true ROAS at half the target. Over the underperformers' window
(`window_days`), the posterior of its log ROAS has variance of about (dispersion + cv^2) / n for n
conversions (Poisson counts with quasi-Poisson dispersion ~1.5, log-normal value per conversion with
cv ~1); telling log(target / 2) from log(target) at the pause bar (z ~ 2) then needs
n >= z^2 (1.5 + 1) / log(2)^2, about 20 conversions: the `evidence_floor_conversions` default. A loser
buys a conversion for value_per_conversion / (target / 2), so it needs that times n over the window:

    floor per day = n * value_per_conversion / (target_roas / 2) / window_days

with value_per_conversion the account's over the window. For a target CPA, value / target ROAS is
that CPA, so the same floor reads n * 2 * target_cpa / window_days.
"""

from __future__ import annotations

from decimal import Decimal

from connectors.records import floor_money
from policies.base import Snapshot
from policies.roas_evidence import window_bounds


def evidence_floor(snapshot: Snapshot, target_roas: float, conversions: float, window_days: int) -> Decimal:
    """Daily budget below which a loser at half `target_roas` gets fewer than `conversions` in
    `window_days` (0 when the account has no conversions to price one by)."""
    if conversions <= 0 or target_roas <= 0:
        return Decimal(0)
    start, end = window_bounds(snapshot.today, window_days)
    value, count = Decimal(0), 0.0
    for entity in snapshot.entities.values():
        if entity.level != "ad_set":
            continue
        for row in snapshot.rows(entity.entity_id, start, end):
            if row.level == "ad_set":
                value += row.conversion_value
                count += row.conversions
    if count <= 0 or value <= 0:
        return Decimal(0)
    per_conversion = value / Decimal(str(count))
    loser_cost = per_conversion / (Decimal(str(target_roas)) / 2)
    return floor_money(Decimal(str(conversions)) * loser_cost / window_days, snapshot.currency)
