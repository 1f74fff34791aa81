"""Google location cuts from the stored breakdowns (agent/decisions/segment_proposals.py): a location
is a campaign criterion, so the region is judged on the campaign's delivery (its ad groups' region rows
summed), its share is the campaign's, and the campaign gets one proposal for it."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from agent.decisions.segment_proposals import account_proposals
from agent.storage.segment_store import replace_segments
from connectors.records import SegmentRow
from policies.roas_evidence import window_bounds
from tests.integration.conftest import make_world

ACCOUNT = "shop-search"


def _rows(ad_group: str, region: str, spend: int, conversions: int, start: date, days: int = 28) -> list[SegmentRow]:
    """`days` days of one ad group's region rows: the spend and conversions spread evenly (value 50 each)."""
    per_day = (Decimal(spend) / days).quantize(Decimal("0.01"))
    return [SegmentRow("google_ads", ACCOUNT, ad_group, start + timedelta(days=i), "region", region,
                       "USD", per_day if i else Decimal(spend) - (days - 1) * per_day, 100, 10,
                       conversions / days, Decimal(conversions * 50) / days) for i in range(days)]


def test_a_location_is_cut_once_per_campaign_on_the_campaign_evidence(engine: Engine, database_url: str) -> None:
    world = make_world(engine, database_url)
    account = world.config.account(ACCOUNT)
    today = world.clock.now().date()
    start, end = window_bounds(today, world.config.policy_settings(account).underperformers.window_days)
    by_campaign: dict[str, list[str]] = defaultdict(list)
    for ad_set in world.active_ad_sets(ACCOUNT):
        by_campaign[str(ad_set.parent_id)].append(ad_set.entity_id)
    first, second, *_ = next(sorted(s) for _, s in sorted(by_campaign.items()) if len(s) >= 2)
    # texas: 1,000 of the campaign's 6,000, at ROAS 0.1; the first ad group alone spends 600 of its 3,100 there
    rows = (_rows(first, "california", 2500, 150, start) + _rows(second, "california", 2500, 150, start)
            + _rows(first, "texas", 600, 1, start) + _rows(second, "texas", 400, 1, start))
    with engine.begin() as connection:
        replace_segments(connection, ACCOUNT, {"region"}, start, end, rows, world.clock.now())

    proposals = account_proposals(engine, world.config, account, today, world.clock)

    cuts = [p for p in proposals if p.kind == "exclude_location"]
    assert len(cuts) == 1, [(p.entity_id, p.change) for p in cuts]  # both ad groups saw it: one change
    [cut] = cuts
    assert cut.entity_id == first and cut.change["to"] == {"dimension": "region", "segment": "texas", "excluded": True}
    assert cut.evidence["scope"] == "campaign" and Decimal(cut.evidence["campaign_spend"]) == 6000
    assert cut.evidence["spend_share"] == round(1000 / 6000, 4)  # the campaign's share, not the ad group's 19%
    assert Decimal(cut.evidence["segment_spend"]) == 1000
