"""Flat arrays of everything that can deliver, so a whole day is simulated in a few numpy calls.

A layout is built from the live state and reused until a mutation changes what can deliver
(statuses, budgets, negatives, exclusions, new ads, ad rotation). Rows are grouped: ads and search
terms are sorted by their ad set, and a "cell" is one (search term, ad) pair of an ad set; accounts
without search terms have one pseudo-term per ad set, so their cells are simply their ads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from connectors.records import minor_unit_exponent
from connectors.simulator.ad_rotation import ROTATE_FOREVER
from connectors.simulator.delivery_model import PACING, can_deliver, fatigue_pool, overlap_fractions
from connectors.simulator.latent import profile_for
from connectors.simulator.random_streams import entity_key, entity_keys
from connectors.simulator.state import AdRuntime, AdSetRuntime, SimState, active_term_mask
from connectors.simulator.world import SimAccount, World


@dataclass
class DeliveryLayout:
    """What can deliver, as arrays. Per ad set unless the name says ad, term, cell or group."""

    ad_sets: list[AdSetRuntime]
    accounts: list[SimAccount]
    account_position: np.ndarray
    keys: np.ndarray
    demand_cap: np.ndarray
    term_demand_share: np.ndarray
    reference_spend: np.ndarray
    base_cpm: np.ndarray
    elasticity: np.ndarray
    base_ctr: np.ndarray
    conversion_rate: np.ndarray
    value_log_mean: np.ndarray
    value_sigma: np.ndarray
    overlap_cpm_factor: np.ndarray
    b2b: np.ndarray
    pool: np.ndarray
    fatigue_threshold: np.ndarray
    fatigue_decay: np.ndarray
    money_scale: np.ndarray
    reports_reach: np.ndarray
    even_rotation: np.ndarray  # the ad set shows its ads equally often (Google ROTATE_FOREVER)
    group: np.ndarray  # budget holder of each ad set (Google: its campaign)
    group_budget: np.ndarray
    group_keys: np.ndarray
    group_pacing_low: np.ndarray
    group_pacing_high: np.ndarray
    ads: list[AdRuntime]
    ad_owner: np.ndarray
    ad_multiplier: np.ndarray
    term_owner: np.ndarray
    term_share: np.ndarray
    term_ctr: np.ndarray
    term_cvr: np.ndarray
    term_texts: list[str]
    real_terms: np.ndarray  # term rows that are real search terms (Google)
    cell_owner: np.ndarray
    cell_ad: np.ndarray
    cell_term: np.ndarray
    cell_keys: np.ndarray
    report_cache: Any = field(default=None, repr=False)  # per-row labels, built once by reporting


def _ad_set_rows(world: World, state: SimState) -> list[tuple[int, SimAccount, AdSetRuntime, float]]:
    rows: list[tuple[int, SimAccount, AdSetRuntime, float]] = []
    for position, account in enumerate(world.accounts):
        runtimes = [state.ad_sets[s.ad_set_id] for c in account.campaigns for s in c.ad_sets]
        deliverable = [r for r in runtimes if can_deliver(state, r)]
        overlaps = overlap_fractions(account, state, [r.ad_set.ad_set_id for r in deliverable])
        rows.extend((position, account, r, overlaps[r.ad_set.ad_set_id]) for r in deliverable)
    return rows


def build_layout(world: World, state: SimState) -> DeliveryLayout:
    """Arrays for every ad set, ad, search term and cell that can deliver under `state`."""
    rows = _ad_set_rows(world, state)
    columns: dict[str, list[float]] = {name: [] for name in (
        "demand_cap", "term_demand_share", "reference_spend", "base_cpm", "elasticity", "base_ctr", "conversion_rate",
        "value_log_mean", "value_sigma", "overlap_cpm_factor", "b2b", "pool", "fatigue_threshold", "fatigue_decay",
        "money_scale", "reports_reach", "even_rotation")}
    group_of: dict[str, int] = {}
    groups: list[tuple[str, float, str]] = []
    group: list[int] = []
    ads: list[AdRuntime] = []
    ad_owner: list[int] = []
    term_owner: list[int] = []
    term_share: list[float] = []
    term_ctr: list[float] = []
    term_cvr: list[float] = []
    term_texts: list[str] = []
    real_terms: list[bool] = []
    cell_owner: list[int] = []
    cell_ad: list[int] = []
    cell_term: list[int] = []
    cell_names: list[str] = []
    for index, (_, account, runtime, overlap) in enumerate(rows):
        ad_set, latent, profile = runtime.ad_set, runtime.ad_set.latent, profile_for(account.platform)
        holder = ad_set.campaign_id if account.budget_on_campaign else ad_set.ad_set_id
        if holder not in group_of:
            budget = state.campaigns[holder].daily_budget if account.budget_on_campaign else runtime.daily_budget
            group_of[holder] = len(groups)
            groups.append((holder, float(budget or 0), account.platform))
        group.append(group_of[holder])
        first_ad = len(ads)
        active_ads = runtime.active_ads()
        ads.extend(active_ads)
        ad_owner.extend([index] * len(active_ads))
        first_term = len(term_texts)
        if ad_set.search_terms:
            mask = active_term_mask(state, runtime)
            weights, ctr_factors, cvr_factors = (array[mask] for array in ad_set.term_arrays)
            all_weights = ad_set.term_arrays[0]
            texts = [t.text for t, on in zip(ad_set.search_terms, mask.tolist(), strict=True) if on]
            demand_share = float(weights.sum() / all_weights.sum())
            shares = (weights / weights.sum()).tolist()
            term_ctr.extend(ctr_factors.tolist())
            term_cvr.extend(cvr_factors.tolist())
            real_terms.extend([True] * len(texts))
        else:
            texts, demand_share, shares = [""], 1.0, [1.0]
            term_ctr.append(1.0)
            term_cvr.append(1.0)
            real_terms.append(False)
        term_texts.extend(texts)
        term_share.extend(shares)
        term_owner.extend([index] * len(texts))
        for term_offset, text in enumerate(texts):
            for ad_offset, ad in enumerate(active_ads):
                cell_owner.append(index)
                cell_ad.append(first_ad + ad_offset)
                cell_term.append(first_term + term_offset)
                cell_names.append(f"{ad.ad.ad_id}|{text}")
        sigma = latent.value_sigma
        for name, value in (
            ("demand_cap", latent.demand_cap), ("term_demand_share", demand_share),
            ("reference_spend", latent.reference_spend), ("base_cpm", latent.base_cpm),
            ("elasticity", latent.delivery_elasticity), ("base_ctr", latent.base_ctr),
            ("conversion_rate", latent.conversion_rate * runtime.segment_rate_factor),
            ("value_log_mean", math.log(latent.average_order_value * runtime.segment_value_factor) - sigma * sigma / 2),
            ("value_sigma", sigma),
            ("overlap_cpm_factor", 1.0 + profile.overlap_cpm_penalty * overlap), ("b2b", account.vertical.b2b),
            ("pool", fatigue_pool(account, runtime)), ("fatigue_threshold", profile.fatigue_threshold),
            ("fatigue_decay", profile.fatigue_decay), ("money_scale", 10 ** minor_unit_exponent(account.currency)),
            ("reports_reach", account.platform == "meta"),
            ("even_rotation", runtime.ad_rotation == ROTATE_FOREVER),
        ):
            columns[name].append(value)
    arrays = {name: np.array(values, dtype=np.float64) for name, values in columns.items()}
    return DeliveryLayout(
        ad_sets=[row[2] for row in rows],
        accounts=[row[1] for row in rows],
        account_position=np.array([row[0] for row in rows], dtype=np.int64),
        keys=entity_keys(row[2].ad_set.ad_set_id for row in rows),
        demand_cap=arrays["demand_cap"],
        term_demand_share=arrays["term_demand_share"],
        reference_spend=arrays["reference_spend"],
        base_cpm=arrays["base_cpm"],
        elasticity=arrays["elasticity"],
        base_ctr=arrays["base_ctr"],
        conversion_rate=arrays["conversion_rate"],
        value_log_mean=arrays["value_log_mean"],
        value_sigma=arrays["value_sigma"],
        overlap_cpm_factor=arrays["overlap_cpm_factor"],
        b2b=arrays["b2b"].astype(bool),
        pool=arrays["pool"],
        fatigue_threshold=arrays["fatigue_threshold"],
        fatigue_decay=arrays["fatigue_decay"],
        money_scale=arrays["money_scale"],
        reports_reach=arrays["reports_reach"].astype(bool),
        even_rotation=arrays["even_rotation"].astype(bool),
        group=np.array(group, dtype=np.int64),
        group_budget=np.array([g[1] for g in groups], dtype=np.float64),
        group_keys=np.array([entity_key(g[0]) for g in groups], dtype=np.uint64),
        group_pacing_low=np.array([PACING[g[2]][0] for g in groups]),
        group_pacing_high=np.array([PACING[g[2]][1] for g in groups]),
        ads=ads,
        ad_owner=np.array(ad_owner, dtype=np.int64),
        ad_multiplier=np.array([ad.ad.ctr_multiplier for ad in ads], dtype=np.float64),
        term_owner=np.array(term_owner, dtype=np.int64),
        term_share=np.array(term_share, dtype=np.float64),
        term_ctr=np.array(term_ctr, dtype=np.float64),
        term_cvr=np.array(term_cvr, dtype=np.float64),
        term_texts=term_texts,
        real_terms=np.array(real_terms, dtype=bool),
        cell_owner=np.array(cell_owner, dtype=np.int64),
        cell_ad=np.array(cell_ad, dtype=np.int64),
        cell_term=np.array(cell_term, dtype=np.int64),
        cell_keys=entity_keys(cell_names),
    )
