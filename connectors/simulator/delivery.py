"""One day of delivery for every account at once, vectorised over ad sets, ads and search terms.

Per ad set: market demand (seasonality x noise) -> spend, capped by its budget holder's budget
(Google ad groups share their campaign's) -> impressions from a diminishing-returns curve (CPM rises
as spend is pushed past the calibrated level, and with learning, audience overlap or a spike).
Per cell (search term x ad): expected impressions by term weight and ad share, Poisson clicks that
convert and clicks that do not, impressions as clicks plus non-clicking views. Per conversion: a lag
and a lognormal value. Every random number comes from its own (entity, day, slot) counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from connectors.simulator.anomalies import (
    SPEND_SPIKE_DAILY_PROBABILITY,
    SPEND_SPIKE_RANGE,
    SPIKE_CONVERSION_RATE_FACTOR,
    SPIKE_CPM_FACTOR,
    SPIKE_CTR_FACTOR,
    InjectedAnomaly,
    tracking_outage,
)
from connectors.simulator.delivery_model import (
    CONVERSION_RATE_NOISE,
    CTR_NOISE,
    DEMAND_NOISE,
    FATIGUE_FLOOR,
    IMPRESSION_NOISE,
    LEARNING_CONVERSION_RATE_FACTOR,
    LEARNING_CPM_FACTOR,
)
from connectors.simulator.layout import DeliveryLayout
from connectors.simulator.random_streams import day_salt, normals, stream_keys, uniforms
from connectors.simulator.sampling import poisson, split_by_group
from connectors.simulator.seasonality import LAG_CDF, conversion_rate_factor, demand_factor
from connectors.simulator.world import World

_CONVERSION_SLOTS = 1000  # per-conversion numbers start here in a cell's stream (3 per conversion)


@dataclass
class DayOutcome:
    """One day's delivery, as arrays aligned with `layout` (ads, terms) plus one entry per conversion.

    Conversions carry their reporting lag and value in minor units; the reporting cut-off for late
    conversions is applied when rows are built, so the same outcome serves every `as_of`.
    """

    day: date
    layout: DeliveryLayout
    ad_impressions: np.ndarray
    ad_clicks: np.ndarray
    ad_spend_minor: np.ndarray
    ad_reach: np.ndarray
    ad_set_reach: np.ndarray
    term_impressions: np.ndarray
    term_clicks: np.ndarray
    term_spend_minor: np.ndarray
    conversion_ad: np.ndarray
    conversion_term: np.ndarray
    conversion_lag: np.ndarray
    conversion_value_minor: np.ndarray
    final_rows: Any = field(default=None, repr=False)  # reporting cache once restatement is over


def _pairs_of_normals(numbers: np.ndarray, first_column: int, count: int) -> np.ndarray:
    return np.stack(
        [normals(numbers[:, first_column + 2 * i], numbers[:, first_column + 2 * i + 1]) for i in range(count)], axis=1
    )


def _mean_one(sigma: float | np.ndarray, normal: np.ndarray) -> np.ndarray:
    return np.exp(sigma * normal - np.square(sigma) / 2)


def simulate_day(world: World, layout: DeliveryLayout, day: date) -> tuple[DayOutcome, list[InjectedAnomaly]]:
    """Deliver everything in `layout` on `day`; updates ads' cumulative impressions and learning counts."""
    seed = world.seed
    n_ad_sets = len(layout.ad_sets)
    b2b = layout.b2b
    market = np.where(b2b, demand_factor(day, True), demand_factor(day, False))
    buyer_mood = np.where(b2b, conversion_rate_factor(day, True), conversion_rate_factor(day, False))

    numbers = uniforms(stream_keys(layout.keys, day_salt(seed, day, "ad_set")), 0, 10)
    demand_noise, impression_noise, ctr_noise, cvr_noise = _pairs_of_normals(numbers, 2, 4).T
    spiking = numbers[:, 0] < SPEND_SPIKE_DAILY_PROBABILITY
    low, high = SPEND_SPIKE_RANGE
    spike = np.where(spiking, low + (high - low) * numbers[:, 1], 1.0)

    demand = layout.demand_cap * layout.term_demand_share * market * _mean_one(DEMAND_NOISE, demand_noise)
    pacing_draw = uniforms(stream_keys(layout.group_keys, day_salt(seed, day, "pacing")), 0, 1)[:, 0]
    pacing = layout.group_pacing_low + (layout.group_pacing_high - layout.group_pacing_low) * pacing_draw
    group_demand = np.bincount(layout.group, weights=demand, minlength=len(layout.group_budget))
    available = layout.group_budget * pacing
    fill = np.minimum(1.0, available / np.where(group_demand > 0, group_demand, 1.0))
    spend = demand * fill[layout.group] * spike

    learning = np.array([runtime.is_learning(day) for runtime in layout.ad_sets], dtype=bool)
    cpm = layout.base_cpm * (np.maximum(spend, 1e-9) / layout.reference_spend) ** (1.0 - layout.elasticity)
    cpm *= np.where(learning, LEARNING_CPM_FACTOR, 1.0) * layout.overlap_cpm_factor
    cpm *= np.where(spiking, SPIKE_CPM_FACTOR, 1.0)
    expected_impressions = spend / cpm * 1000.0 * _mean_one(IMPRESSION_NOISE, impression_noise)
    ctr = layout.base_ctr * _mean_one(CTR_NOISE, ctr_noise) * np.where(spiking, SPIKE_CTR_FACTOR, 1.0)
    cvr = layout.conversion_rate * buyer_mood * _mean_one(CONVERSION_RATE_NOISE, cvr_noise)
    cvr *= np.where(learning, LEARNING_CONVERSION_RATE_FACTOR, 1.0) * np.where(spiking, SPIKE_CONVERSION_RATE_FACTOR, 1.0)

    # Ads: fatigue from each ad's lifetime frequency; delivery favours strong ads (share ~ strength^2)
    # unless the ad set rotates its ads evenly (equal shares; clicks still follow strength).
    cumulative = np.fromiter((ad.cumulative_impressions for ad in layout.ads), dtype=np.float64, count=len(layout.ads))
    owner = layout.ad_owner
    excess = cumulative / layout.pool[owner] - layout.fatigue_threshold[owner]
    fatigue = np.where(excess > 0, np.maximum(FATIGUE_FLOOR, np.exp(-layout.fatigue_decay[owner] * np.maximum(excess, 0))), 1.0)
    strength = layout.ad_multiplier * fatigue
    weight = np.where(layout.even_rotation[owner], 1.0, np.square(strength))
    ad_share = weight / np.bincount(owner, weights=weight, minlength=n_ad_sets)[owner]

    # Cells: one (search term, ad) pair each.
    cell_owner, cell_ad, cell_term = layout.cell_owner, layout.cell_ad, layout.cell_term
    views = expected_impressions[cell_owner] * layout.term_share[cell_term] * ad_share[cell_ad]
    click_probability = np.minimum(1.0, ctr[cell_owner] * layout.term_ctr[cell_term] * strength[cell_ad])
    convert_probability = np.minimum(1.0, cvr[cell_owner] * layout.term_cvr[cell_term])
    cell_streams = stream_keys(layout.cell_keys, day_salt(seed, day, "cell"))
    cell_numbers = uniforms(cell_streams, 0, 8)
    expected_clicks = views * click_probability
    converting = poisson(expected_clicks * convert_probability, cell_numbers[:, 0],
                         normals(cell_numbers[:, 1], cell_numbers[:, 2]))
    other_clicks = poisson(expected_clicks * (1.0 - convert_probability), cell_numbers[:, 3],
                           normals(cell_numbers[:, 4], cell_numbers[:, 5]))
    unclicked_mean = views * (1.0 - click_probability)
    unclicked = np.maximum(
        0, np.rint(unclicked_mean + np.sqrt(unclicked_mean) * normals(cell_numbers[:, 6], cell_numbers[:, 7]))
    ).astype(np.int64)
    cell_clicks = converting + other_clicks
    cell_impressions = cell_clicks + unclicked

    n_ads, n_terms = len(layout.ads), len(layout.term_texts)
    ad_impressions = np.bincount(cell_ad, weights=cell_impressions, minlength=n_ads).astype(np.int64)
    ad_clicks = np.bincount(cell_ad, weights=cell_clicks, minlength=n_ads).astype(np.int64)
    term_impressions = np.bincount(cell_term, weights=cell_impressions, minlength=n_terms).astype(np.int64)
    term_clicks = np.bincount(cell_term, weights=cell_clicks, minlength=n_terms).astype(np.int64)
    ad_set_impressions = np.bincount(owner, weights=ad_impressions, minlength=n_ad_sets)
    delivered = ad_set_impressions > 0
    spend_minor = np.where(delivered, np.rint(spend * layout.money_scale), 0).astype(np.int64)
    ad_spend = split_by_group(spend_minor, ad_impressions, owner)
    term_spend = split_by_group(spend_minor, term_impressions, layout.term_owner)
    pool = layout.pool
    ad_set_reach = np.rint(pool * -np.expm1(-ad_set_impressions / pool)).astype(np.int64)
    ad_reach = np.rint(pool[owner] * -np.expm1(-ad_impressions / pool[owner])).astype(np.int64)

    # Conversions: the tag misses every conversion of an account whose tracking is down that day.
    outage_by_account = [tracking_outage(seed, account.account_id, day, world.start) for account in world.accounts]
    outage = np.array(outage_by_account, dtype=bool)[layout.account_position] if n_ad_sets else np.zeros(0, bool)
    recorded = np.where(outage[cell_owner], 0, converting)
    conversion_cell = np.repeat(np.arange(len(recorded)), recorded)
    ordinal = np.arange(len(conversion_cell)) - np.repeat(np.cumsum(recorded) - recorded, recorded)
    conversion_numbers = uniforms(cell_streams[conversion_cell], _CONVERSION_SLOTS + 3 * ordinal, 3)
    conversion_owner = cell_owner[conversion_cell]
    b2b_conversion = b2b[conversion_owner]
    lag = np.where(
        b2b_conversion,
        np.searchsorted(LAG_CDF[True], conversion_numbers[:, 0], side="right"),
        np.searchsorted(LAG_CDF[False], conversion_numbers[:, 0], side="right"),
    )
    value = np.exp(layout.value_log_mean[conversion_owner]
                   + layout.value_sigma[conversion_owner] * normals(conversion_numbers[:, 1], conversion_numbers[:, 2]))
    value_minor = np.rint(value * layout.money_scale[conversion_owner]).astype(np.int64)

    recorded_by_ad_set = np.bincount(conversion_owner, minlength=n_ad_sets)
    for index in np.flatnonzero(learning & (recorded_by_ad_set > 0)):
        layout.ad_sets[index].learning_conversions += int(recorded_by_ad_set[index])
    for ad, impressions in zip(layout.ads, ad_impressions.tolist(), strict=True):
        ad.cumulative_impressions += impressions

    anomalies = [
        InjectedAnomaly(layout.accounts[i].account_id, layout.ad_sets[i].ad_set.ad_set_id, day, "spend_spike",
                        "ad_set", float(spike[i]))
        for i in np.flatnonzero(spiking & delivered)
    ]
    delivering_accounts = set(layout.account_position[delivered].tolist())
    anomalies[:0] = [
        InjectedAnomaly(account.account_id, account.account_id, day, "tracking_outage", "account", 0.0)
        for position, account in enumerate(world.accounts)
        if outage_by_account[position] and position in delivering_accounts
    ]
    outcome = DayOutcome(
        day, layout, ad_impressions, ad_clicks, ad_spend, ad_reach, ad_set_reach, term_impressions, term_clicks,
        term_spend, cell_ad[conversion_cell], cell_term[conversion_cell], lag, value_minor,
    )
    return outcome, anomalies
