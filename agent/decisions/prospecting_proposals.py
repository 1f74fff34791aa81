"""Prospecting exclusions for one account (the imperative shell of policies/prospecting_exclusions.py):
reads what the audience sync's ledger says the platform holds, and the campaigns' existing-customer
shares from imported outcomes, then asks the pure policy."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from agent.config import AccountConfig, AgentConfig
from agent.reports.customer_share import campaign_shares
from agent.storage.audience_ledger import destination_of, held_count
from policies.base import Proposal, Snapshot
from policies.prospecting_exclusions import CustomerShare, ProspectingTarget, propose_prospecting_exclusions


def prospecting_proposals(engine: Engine, config: AgentConfig, account: AccountConfig,
                          snapshot: Snapshot) -> list[Proposal]:
    """exclude_audience proposals for the account's prospecting ad sets, or campaigns on Google Ads
    (none without `prospecting`)."""
    settings = account.prospecting
    if settings is None:
        return []
    audience_id = account.audiences[settings.exclude_segment]  # config validation: a synced segment
    end = snapshot.today - timedelta(days=1)
    start = end - timedelta(days=settings.window_days - 1)
    with engine.connect() as connection:
        held = held_count(connection, account.id, audience_id)
        # LinkedIn excludes a DMP segment through its ad segment, recorded by the sync (None: not seen yet)
        destination = destination_of(connection, account.id, audience_id) if snapshot.platform == "linkedin" else None
        shares = campaign_shares(connection, config, account.id, start, end) if held else {}
    target = ProspectingTarget(
        patterns=settings.campaigns, segment=settings.exclude_segment, audience_id=audience_id, held_members=held,
        exclusion_id=destination,
        shares={campaign: CustomerShare(row.conversions, row.existing, row.share_low, row.share_high)
                for campaign, row in shares.items()},
        window=(start.isoformat(), end.isoformat()))
    return propose_prospecting_exclusions(snapshot, target)
