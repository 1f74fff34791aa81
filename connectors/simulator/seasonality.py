"""Calendar effects and conversion lag: when people buy, and how long after the click they do.

Consumer demand peaks at weekends and in December; B2B demand collapses at weekends. B2B buyers
also convert later after the click, so their recent days are restated for longer.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np

MAX_LAG_DAYS = 28  # conversions arrive at most this many days after the click; older days are final
LAG_BUCKETS = MAX_LAG_DAYS + 1


def _mean_one(values: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(values) / len(values)
    return tuple(v / mean for v in values)


# Monday .. Sunday, scaled to average 1 so seasonality moves volume within a week, not its total.
_DEMAND_BY_WEEKDAY = {
    False: _mean_one((0.95, 0.95, 0.97, 1.0, 1.03, 1.08, 1.02)),
    True: _mean_one((1.10, 1.14, 1.12, 1.06, 0.92, 0.33, 0.33)),
}
_CONVERSION_RATE_BY_WEEKDAY = {
    False: _mean_one((1.0, 0.99, 0.99, 1.0, 0.97, 1.02, 1.03)),
    True: _mean_one((1.08, 1.10, 1.07, 1.02, 0.90, 0.60, 0.65)),
}
# (amplitude, day of year of the peak) of the yearly demand cycle.
_YEARLY_DEMAND = {False: (0.12, 340), True: (0.05, 280)}


def demand_factor(day: date, b2b: bool) -> float:
    """How much more (or less) inventory the market offers on `day` than on an average day."""
    amplitude, peak = _YEARLY_DEMAND[b2b]
    yearly = 1.0 + amplitude * math.cos(2 * math.pi * (day.timetuple().tm_yday - peak) / 365.25)
    return _DEMAND_BY_WEEKDAY[b2b][day.weekday()] * yearly


def conversion_rate_factor(day: date, b2b: bool) -> float:
    """How much likelier a click is to convert on `day`'s weekday than on average."""
    return _CONVERSION_RATE_BY_WEEKDAY[b2b][day.weekday()]


def _lag_cdf(b2b: bool) -> np.ndarray:
    same_day, decay_days = (0.35, 8.0) if b2b else (0.70, 3.0)
    tail = np.exp(-np.arange(1, LAG_BUCKETS) / decay_days)
    probabilities = np.concatenate(([same_day], (1.0 - same_day) * tail / tail.sum()))
    cdf = np.cumsum(probabilities)
    cdf[-1] = 1.0
    return cdf


LAG_CDF: dict[bool, np.ndarray] = {False: _lag_cdf(False), True: _lag_cdf(True)}

