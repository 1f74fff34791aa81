"""Turning simulator state and outcomes into the connector records the agent reads.

This is where late conversions are cut: a day is reported with only the conversions whose lag has
already elapsed on `as_of`, so recent days grow as `as_of` moves on and days older than the
28-day lag window never change again (their rows are built once and reused).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from connectors.records import Audience, Entity, MetricRow, SearchTermRow, minor_unit
from connectors.simulator.creative import creative_attributes
from connectors.simulator.delivery import DayOutcome
from connectors.simulator.keywords import NegativeKeyword
from connectors.simulator.layout import DeliveryLayout
from connectors.simulator.seasonality import MAX_LAG_DAYS
from connectors.simulator.state import SimState, targeted_people
from connectors.simulator.world import SimAccount, World

_AD_SET_NAME = {"google_ads": "ad_group", "meta": "ad_set", "linkedin": "campaign"}
_CAMPAIGN_NAME = {"google_ads": "campaign", "meta": "campaign", "linkedin": "campaign_group"}
_KEYWORD_FORMAT = {"EXACT": "[{}]", "PHRASE": '"{}"', "BROAD": "{}"}


def _negatives(negatives: list[NegativeKeyword]) -> list[dict[str, str]]:
    return [{"text": n.text, "match_type": n.match_type, "list_name": n.list_name} for n in negatives]


def _account_entities(account: SimAccount, state: SimState, as_of: date, launched: date) -> Iterable[Entity]:
    platform, account_id, currency = account.platform, account.account_id, account.currency
    google = platform == "google_ads"
    for campaign in account.campaigns:
        campaign_state = state.campaigns[campaign.campaign_id]
        runtimes = [state.ad_sets[s.ad_set_id] for s in campaign.ad_sets]
        campaign_attributes: dict[str, Any] = {"objective": campaign.objective, "platform_level": _CAMPAIGN_NAME[platform]}
        if google:
            campaign_attributes["negative_keywords"] = _negatives(campaign_state.negatives)
        if platform != "linkedin":  # Google labels, Meta ad labels; LinkedIn has none
            campaign_attributes["labels"] = list(campaign_state.labels)
        if google:  # ad schedules are Google campaign criteria
            campaign_attributes["ad_schedule"] = [dict(b) for b in campaign_state.ad_schedule]
        yield Entity(
            platform, account_id, "campaign", campaign.campaign_id, None, campaign.name, campaign_state.status,
            currency, campaign_state.daily_budget, any(r.is_learning(as_of) for r in runtimes),
            campaign_state.last_changed, campaign_attributes,
        )
        for runtime in runtimes:
            ad_set = runtime.ad_set
            # Platforms report when an ad set was created (Meta created_time, Google's start date); the
            # pause test needs it to leave the launch learning phase out. Every simulated one launches
            # on the world's first day.
            attributes: dict[str, Any] = {"theme": ad_set.theme, "platform_level": _AD_SET_NAME[platform],
                                          "created": launched.isoformat()}
            if google:
                attributes["negative_keywords"] = _negatives(runtime.negatives)
                attributes["ad_rotation"] = runtime.ad_rotation
            else:
                attributes["audience_ids"] = list(ad_set.audience_ids)
                attributes["excluded_audience_ids"] = list(runtime.excluded_audience_ids)
                attributes["audience_size"] = targeted_people(account, runtime).size  # the platform's estimate
            if platform != "linkedin":
                attributes["labels"] = list(runtime.labels)
            attributes.update(runtime.segments.attributes(platform))
            yield Entity(
                platform, account_id, "ad_set", ad_set.ad_set_id, campaign.campaign_id, ad_set.name, runtime.status,
                currency, runtime.daily_budget, runtime.is_learning(as_of), runtime.last_changed, attributes,
            )
            for ad in runtime.ads:
                ad_attributes = dict(creative_attributes(platform, ad.ad.creative))
                if ad.created is not None:
                    ad_attributes["created"] = ad.created.isoformat()
                yield Entity(
                    platform, account_id, "ad", ad.ad.ad_id, ad_set.ad_set_id, ad.ad.name, ad.status,
                    currency, None, False, ad.last_changed, ad_attributes,
                )
            for keyword in ad_set.keywords:
                yield Entity(
                    platform, account_id, "keyword", keyword.keyword_id, ad_set.ad_set_id,
                    _KEYWORD_FORMAT[keyword.match_type].format(keyword.text),
                    runtime.keyword_status[keyword.keyword_id],
                    currency, None, False, runtime.keyword_last_changed.get(keyword.keyword_id),
                    {"text": keyword.text, "match_type": keyword.match_type},
                )


def build_entities(world: World, state: SimState, as_of: date) -> list[Entity]:
    """Every campaign, ad set, ad and keyword with its settings as of `as_of`."""
    return [entity for account in world.accounts for entity in _account_entities(account, state, as_of, world.start)]


def build_audiences(world: World) -> list[Audience]:
    """Audiences of the Meta- and LinkedIn-style accounts, with their exact sizes."""
    return [
        Audience(account.account_id, audience.audience_id, audience.name, audience.size)
        for account in world.accounts
        for audience in account.audiences
    ]


@dataclass(frozen=True)
class _Labels:
    """Per-row constants of a layout's reports, computed once per layout."""

    ad_set_fields: list[tuple[str, str, str, str, str, Decimal, bool]]  # platform, account, currency, campaign, ad set, quantum, reach
    ad_ids: list[str]
    ad_starts: list[int]
    term_starts: list[int]


def _labels(layout: DeliveryLayout) -> _Labels:
    if layout.report_cache is None:
        fields = []
        for account, runtime, reach in zip(layout.accounts, layout.ad_sets, layout.reports_reach.tolist(), strict=True):
            quantum = minor_unit(account.currency)
            fields.append((account.platform, account.account_id, account.currency, runtime.ad_set.campaign_id,
                           runtime.ad_set.ad_set_id, quantum, reach))
        boundaries = np.arange(len(layout.ad_sets) + 1)
        layout.report_cache = _Labels(
            fields,
            [ad.ad.ad_id for ad in layout.ads],
            np.searchsorted(layout.ad_owner, boundaries).tolist(),
            np.searchsorted(layout.term_owner, boundaries).tolist(),
        )
    labels: _Labels = layout.report_cache
    return labels


def _counts(index: np.ndarray, values: np.ndarray, size: int) -> tuple[list[int], list[int]]:
    return (np.bincount(index, minlength=size).tolist(),
            np.bincount(index, weights=values, minlength=size).astype(np.int64).tolist())


def _day_rows(outcome: DayOutcome, as_of: date) -> tuple[list[MetricRow], list[SearchTermRow]]:
    layout, day = outcome.layout, outcome.day
    labels = _labels(layout)
    # Conversions reported on `as_of` are those with day + lag < as_of.
    arrived = outcome.conversion_lag < (as_of - day).days
    values = outcome.conversion_value_minor[arrived]
    ad_conversions, ad_value = _counts(outcome.conversion_ad[arrived], values, len(layout.ads))
    term_conversions, term_value = _counts(outcome.conversion_term[arrived], values, len(layout.term_texts))
    ad_impressions, ad_clicks = outcome.ad_impressions.tolist(), outcome.ad_clicks.tolist()
    ad_spend, ad_reach = outcome.ad_spend_minor.tolist(), outcome.ad_reach.tolist()
    term_impressions, term_clicks = outcome.term_impressions.tolist(), outcome.term_clicks.tolist()
    term_spend, real_terms, texts = outcome.term_spend_minor.tolist(), layout.real_terms.tolist(), layout.term_texts
    ad_set_reach = outcome.ad_set_reach.tolist()
    rows: list[MetricRow] = []
    term_rows: list[SearchTermRow] = []
    for index, (platform, account_id, currency, campaign_id, ad_set_id, quantum, reach) in enumerate(labels.ad_set_fields):
        first, last = labels.ad_starts[index], labels.ad_starts[index + 1]
        impressions = sum(ad_impressions[first:last])
        if not impressions:
            continue
        rows.append(MetricRow(
            platform, account_id, "ad_set", ad_set_id, day, currency, sum(ad_spend[first:last]) * quantum,
            impressions, sum(ad_clicks[first:last]), float(sum(ad_conversions[first:last])),
            sum(ad_value[first:last]) * quantum, ad_set_reach[index] if reach else None,
        ))
        for ad in range(first, last):
            if ad_impressions[ad]:
                rows.append(MetricRow(
                    platform, account_id, "ad", labels.ad_ids[ad], day, currency, ad_spend[ad] * quantum,
                    ad_impressions[ad], ad_clicks[ad], float(ad_conversions[ad]), ad_value[ad] * quantum,
                    ad_reach[ad] if reach else None,
                ))
        for term in range(labels.term_starts[index], labels.term_starts[index + 1]):
            if real_terms[term] and term_impressions[term]:
                term_rows.append(SearchTermRow(
                    account_id, campaign_id, ad_set_id, day, texts[term], term_impressions[term], term_clicks[term],
                    term_spend[term] * quantum, float(term_conversions[term]), term_value[term] * quantum,
                ))
    return rows, term_rows


def build_metric_rows(world: World, days: Iterable[DayOutcome], as_of: date) -> tuple[list[MetricRow], list[SearchTermRow]]:
    """Ad-set and ad rows, and search-term rows, for every simulated day as reported on `as_of`."""
    metric_rows: list[MetricRow] = []
    term_rows: list[SearchTermRow] = []
    for outcome in days:
        final = (as_of - outcome.day).days > MAX_LAG_DAYS
        if final and outcome.final_rows is not None:
            day_metrics, day_terms = outcome.final_rows
        else:
            day_metrics, day_terms = _day_rows(outcome, as_of)
            if final:
                outcome.final_rows = (day_metrics, day_terms)
        metric_rows.extend(day_metrics)
        term_rows.extend(day_terms)
    return metric_rows, term_rows
