"""The segment windows summed by the database (agent/storage/segment_store.py `load_segment_totals`)
are the windows the policy would build from the stored day rows (policies/segment_windows.py): per ad
set, and per campaign for the levers that act on a whole campaign."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from agent.storage.segment_store import (
    SegmentTotals,
    load_segment_rows,
    load_segment_totals,
    replace_segments,
)
from connectors.records import SegmentRow
from policies.segment_windows import segment_windows
from tests.integration.conftest import make_world

ACCOUNT = "shop-search"


def _stored_rows(ad_sets: list[str], start: date, days: int, seed: int) -> list[SegmentRow]:
    """Rows with uneven money, days without spend and segments that start late."""
    draw = random.Random(seed)
    rows = []
    for ad_set in ad_sets:
        for dimension, segments in (("age", ("18-24", "25-34", "65+")), ("region", ("texas", "ohio"))):
            for segment in segments:
                first = draw.randrange(0, 6)
                for i in range(first, days):
                    spend = Decimal(draw.choice((0, draw.randrange(1, 900_000)))) / 10_000
                    rows.append(SegmentRow("google_ads", ACCOUNT, ad_set, start + timedelta(days=i), dimension,
                                           segment, "USD", spend, draw.randrange(0, 900), draw.randrange(0, 40),
                                           draw.choice((0.0, 0.5, 1.0, 2.0)), Decimal(draw.randrange(0, 20_000)) / 100))
    return rows


def _as_window(t: SegmentTotals) -> tuple[object, ...]:
    return (t.dimension, t.segment, t.spend, round(t.weighted_spend, 6), round(t.conversions, 9),
            t.conversion_value, t.clicks, t.impressions, t.days_with_spend, t.first_day)


def _from_rows(rows: list[SegmentRow], start: date, end: date, weight: dict[date, float]) -> list[tuple[object, ...]]:
    return [(w.dimension, w.segment, w.evidence.spend, round(w.evidence.exposure, 6), round(w.evidence.conversions, 9),
             w.evidence.conversion_value, w.evidence.clicks, w.evidence.impressions, w.evidence.days_with_spend,
             w.evidence.first_day) for w in segment_windows(rows, start, end, weight.__getitem__)]


@pytest.mark.parametrize("seed", [1, 2])
def test_summed_windows_equal_the_windows_built_from_day_rows(engine: Engine, database_url: str, seed: int) -> None:
    world = make_world(engine, database_url)
    ad_sets = sorted(a.entity_id for a in world.active_ad_sets(ACCOUNT))
    campaign_of = {a.entity_id: str(a.parent_id) for a in world.active_ad_sets(ACCOUNT)}
    today = world.clock.now().date()
    end = today - timedelta(days=1)
    start = end - timedelta(days=27)
    stored = _stored_rows(ad_sets + ["gone-ad-set"], start - timedelta(days=3), 31, seed)  # 3 days before the window
    with engine.begin() as connection:
        replace_segments(connection, ACCOUNT, {"age", "region"}, start - timedelta(days=3), end, stored,
                         world.clock.now())
    weight = {start + timedelta(days=i): 0.4 + 0.02 * i for i in range(28)}  # a lag curve's shape

    with engine.connect() as connection:
        rows = load_segment_rows(connection, ACCOUNT, start, end, {"age", "region"})
        by_ad_set = load_segment_totals(connection, ACCOUNT, start, end, {"age", "region"}, weight)
        by_campaign = load_segment_totals(connection, ACCOUNT, start, end, {"region"}, weight, by_campaign=True)

    assert {t.key for t in by_ad_set} == set(ad_sets) | {"gone-ad-set"}
    for ad_set in ad_sets + ["gone-ad-set"]:
        expected = _from_rows([r for r in rows if r.entity_id == ad_set], start, end, weight)
        assert sorted(_as_window(t) for t in by_ad_set if t.key == ad_set) == expected, ad_set
    campaign_rows: dict[str, list[SegmentRow]] = defaultdict(list)
    for r in rows:
        if r.dimension == "region" and r.entity_id in campaign_of:  # an ad set no longer stored counts for none
            campaign_rows[campaign_of[r.entity_id]].append(r)
    assert {t.key for t in by_campaign} == set(campaign_rows)
    for campaign, its_rows in campaign_rows.items():
        assert sorted(_as_window(t) for t in by_campaign if t.key == campaign) == \
            _from_rows(its_rows, start, end, weight), campaign
