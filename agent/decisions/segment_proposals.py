"""Segment exclusion proposals for one account, from the stored breakdowns (the imperative shell of
policies/segment_exclusions.py): the same window, lag curve and protections as the ad-set policies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AccountConfig, AgentConfig
from agent.decisions.snapshots import load_snapshot
from agent.storage.segment_store import SegmentTotals, load_segment_totals
from policies.base import Proposal, Snapshot
from policies.conversion_lag import lag_curve
from policies.protection import may_change
from policies.roas_evidence import WindowEvidence, estimate_dispersion, window_bounds
from policies.segment_exclusions import (
    SegmentExclusionSettings,
    SegmentWindow,
    campaign_level,
    lever_dimensions,
    one_location_cut_per_campaign,
    propose,
)


def settings_for(config: AgentConfig, account: AccountConfig) -> SegmentExclusionSettings:
    """The underperformers' bar (target, confidence, window spend floor) applied to segments."""
    policy = config.policy_settings(account).underperformers
    share = config.guardrail_settings(account).max_segment_delivery_share  # the guardrail's limit, proposed within
    return SegmentExclusionSettings(target_roas=policy.target_roas, confidence=policy.confidence,
                                    min_spend=policy.min_spend, min_days=policy.min_days_live,
                                    max_delivery_share=share)


def cycle_proposals(engine: Engine, config: AgentConfig, account: AccountConfig, snapshot: Snapshot,
                    others: Sequence[Proposal]) -> list[Proposal]:
    """The segment actions the cycle gates for one account (`policies.segment_exclusions.enabled`),
    leaving out ad sets another proposal of this cycle pauses: a paused ad set has no segments to cut."""
    if not config.policy_settings(account).segment_exclusions.enabled:
        return []
    pausing = {p.entity_id for p in others if p.kind == "pause"}
    return [p for p in account_proposals(engine, config, account, snapshot.today, snapshot=snapshot)
            if p.entity_id not in pausing]


def account_proposals(engine: Engine, config: AgentConfig, account: AccountConfig, today: date,
                      clock: Clock | None = None, *, snapshot: Snapshot | None = None) -> list[Proposal]:
    """Segment exclusion proposals from the stored breakdowns (`snapshot`: the account's, if already
    loaded; else loaded with `clock`)."""
    if snapshot is None:
        if clock is None:
            raise ValueError("account_proposals needs a clock or a snapshot")
        snapshot = load_snapshot(engine, account, today, clock)
    dimensions = lever_dimensions(snapshot.platform)
    if not dimensions:
        return []
    window_days = config.policy_settings(account).underperformers.window_days
    start, end = window_bounds(today, window_days)
    curve = lag_curve(snapshot)
    settings = settings_for(config, account)
    settings = SegmentExclusionSettings(**{**settings.__dict__,
                                           "dispersion": estimate_dispersion(snapshot, start, end, curve)})
    campaign_dimensions = {d for d in dimensions if campaign_level(snapshot.platform, d)}
    weights = {start + timedelta(days=i): curve.for_day(start + timedelta(days=i), today)
               for i in range((end - start).days + 1)}
    with engine.connect() as connection:
        totals = load_segment_totals(connection, account.id, start, end, dimensions, weights)
        by_campaign: dict[str, list[SegmentTotals]] = defaultdict(list)  # levers that act on the campaign
        for found in load_segment_totals(connection, account.id, start, end, campaign_dimensions, weights,
                                         by_campaign=True):
            by_campaign[found.key].append(found)
    by_ad_set: dict[str, list[SegmentTotals]] = defaultdict(list)
    for found in totals:
        by_ad_set[found.key].append(found)
    proposals: list[Proposal] = []
    for ad_set_id in sorted(by_ad_set):
        entity = snapshot.entities.get(ad_set_id)
        if entity is None or entity.learning or not may_change(snapshot, ad_set_id):
            continue
        # a campaign-level lever (Google's location) is judged on the whole campaign's delivery
        own = [t for t in by_ad_set[ad_set_id] if t.dimension not in campaign_dimensions]
        windows = _windows(own + by_campaign.get(str(entity.parent_id), []), start, end)
        proposals += propose(snapshot.platform, account.id, entity, windows, settings, today)
    campaign_of = {e.entity_id: e.parent_id for e in snapshot.entities.values()}
    return one_location_cut_per_campaign(proposals, campaign_of)


def _windows(totals: Sequence[SegmentTotals], start: date, end: date) -> list[SegmentWindow]:
    """The segments' windows, in (dimension, segment) order; exposure is spend weighted by the lag curve."""
    return [SegmentWindow(t.dimension, t.segment, WindowEvidence(
        start, end, t.spend, t.weighted_spend, t.conversions, t.conversion_value, t.clicks, t.impressions,
        t.days_with_spend, t.weighted_spend, t.first_day)) for t in sorted(totals, key=lambda t: (t.dimension, t.segment))]
