"""Rare, seeded incidents an agent should notice: tracking outages and spend spikes.

Whether a day has an incident depends only on the seed, the entity and the day (never on the
agent's actions), so agent and baseline runs face the same incidents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

from connectors.simulator.random_streams import uniform

TRACKING_OUTAGE_DAILY_PROBABILITY = 1 / 100  # per account and day: an outage starts
TRACKING_OUTAGE_MAX_DAYS = 3
SPEND_SPIKE_DAILY_PROBABILITY = 1 / 400  # per ad set and day
SPEND_SPIKE_RANGE = (3.0, 5.0)  # spend multiplier of a spike
SPIKE_CPM_FACTOR = 1.3  # a runaway bid buys dearer, worse inventory ...
SPIKE_CTR_FACTOR = 0.6
SPIKE_CONVERSION_RATE_FACTOR = 0.5  # ... that clicks and converts less


@dataclass(frozen=True)
class InjectedAnomaly:
    """An incident the simulator put in the data. Tracking outages hit a whole account (entity_id is
    the account id, level "account"); spend spikes hit one ad set (level "ad_set")."""

    account_id: str
    entity_id: str
    day: date
    kind: Literal["tracking_outage", "spend_spike"]
    level: Literal["account", "ad_set"]
    magnitude: float  # spend multiplier for a spike; share of conversions recorded (0.0) for an outage


@lru_cache(maxsize=65536)
def _outage_length_starting(seed: int, account_id: str, onset: date) -> int:
    """Days of a tracking outage starting on `onset` (0: none starts that day)."""
    if uniform(seed, account_id, onset, "tracking_outage") >= TRACKING_OUTAGE_DAILY_PROBABILITY:
        return 0
    return 1 + int(uniform(seed, account_id, onset, "tracking_outage_length") * TRACKING_OUTAGE_MAX_DAYS)


def tracking_outage(seed: int, account_id: str, day: date, first_day: date) -> bool:
    """Whether the account's conversion tracking is broken on `day` (outages start on or after `first_day`)."""
    for back in range(TRACKING_OUTAGE_MAX_DAYS):
        onset = day - timedelta(days=back)
        if onset >= first_day and _outage_length_starting(seed, account_id, onset) > back:
            return True
    return False
