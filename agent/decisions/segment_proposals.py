"""Segment exclusion proposals for one account, from the stored breakdowns (the imperative shell of
policies/segment_exclusions.py): the same window, lag curve and protections as the ad-set policies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AccountConfig, AgentConfig
from agent.decisions.snapshots import load_snapshot
from agent.storage.segment_store import load_segment_rows
from connectors.records import SegmentRow
from policies.base import Proposal, Snapshot
from policies.conversion_lag import lag_curve
from policies.protection import may_change
from policies.roas_evidence import estimate_dispersion, window_bounds
from policies.segment_exclusions import (
    SegmentExclusionSettings,
    campaign_level,
    lever_dimensions,
    one_location_cut_per_campaign,
    propose,
)
from policies.segment_windows import segment_windows


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
    with engine.connect() as connection:
        rows = load_segment_rows(connection, account.id, start, end, dimensions)
    by_ad_set: dict[str, list[SegmentRow]] = defaultdict(list)
    by_campaign: dict[str, list[SegmentRow]] = defaultdict(list)  # rows of levers that act on the campaign
    campaign_of = {e.entity_id: e.parent_id for e in snapshot.entities.values()}
    for row in rows:
        if campaign_level(snapshot.platform, row.dimension):
            if campaign_of.get(row.entity_id) is not None:  # an ad set no longer read has no campaign to add to
                by_campaign[str(campaign_of[row.entity_id])].append(row)
        else:
            by_ad_set[row.entity_id].append(row)
    proposals: list[Proposal] = []
    for ad_set_id in sorted({r.entity_id for r in rows}):
        entity = snapshot.entities.get(ad_set_id)
        if entity is None or entity.learning or not may_change(snapshot, ad_set_id):
            continue
        # a campaign-level lever (Google's location) is judged on the whole campaign's delivery
        ad_set_rows = by_ad_set.get(ad_set_id, []) + by_campaign.get(str(entity.parent_id), [])
        windows = segment_windows(ad_set_rows, start, end, lambda day: curve.for_day(day, today))
        proposals += propose(snapshot.platform, account.id, entity, windows, settings, today)
    return one_location_cut_per_campaign(proposals, campaign_of)

