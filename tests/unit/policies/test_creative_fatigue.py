"""Creative fatigue: significant CTR decay with rising frequency -> refresh_creative."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from policies.creative_fatigue import audience_size_from_reach, propose_creative_refresh, two_proportion_z
from policies.settings import CreativeFatigueSettings
from tests.unit.policies.builders import TODAY, entity, rows, snapshot

AUDIENCE = 20_000
FIRST_DAY = TODAY - timedelta(days=21)


def _daily_reach(impressions: float) -> float:
    return AUDIENCE * -math.expm1(-impressions / AUDIENCE)


def _ad(ctr_of_day) -> list:
    return rows("ad1", 21, spend=50, impressions=5000, clicks=lambda d: 5000 * ctr_of_day(d), conversions=1,
                value=100, level="ad", reach=lambda d: _daily_reach(5000))


def _decaying(day: date) -> float:
    age = (day - FIRST_DAY).days
    return 0.02 if age < 7 else 0.02 * (1 - 0.03 * (age - 6))


def _account(ad_rows: list, **ad_attributes: object):
    return snapshot([entity("s1"), entity("ad1", level="ad", parent="s1", headline="Run faster", **ad_attributes)],
                    ad_rows)


def test_two_proportion_z_matches_the_textbook_formula() -> None:
    # 100/5000 vs 60/5000: pooled p = 0.016, se = sqrt(0.016 * 0.984 * 2 / 5000) = 0.002509.
    z, p_value = two_proportion_z(100, 5000, 60, 5000)
    assert z == pytest.approx(0.008 / math.sqrt(0.016 * 0.984 * 2 / 5000), rel=1e-9)
    assert p_value == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))


def test_audience_size_is_recovered_from_daily_reach() -> None:
    assert audience_size_from_reach(5000, round(_daily_reach(5000))) == pytest.approx(AUDIENCE, rel=0.01)
    assert audience_size_from_reach(5000, 5000) is None  # no repeat exposure: size unidentifiable


def test_a_decaying_ad_gets_a_refresh_proposal_with_its_evidence() -> None:
    (proposal,) = propose_creative_refresh(_account(_ad(_decaying)), CreativeFatigueSettings())
    assert (proposal.kind, proposal.entity_id) == ("refresh_creative", "ad1")
    evidence = proposal.evidence
    assert evidence["early"]["ctr"] == 0.02
    assert evidence["relative_decline"] > 0.3
    assert evidence["p_value"] < 1e-6
    assert evidence["audience_size_source"] == "inferred from daily reach"
    assert evidence["frequency"] == pytest.approx(21 * 5000 / AUDIENCE, rel=0.02)
    assert evidence["log_ctr_slope"] < 0
    assert "p =" in proposal.rationale and "seen it about 5." in proposal.rationale


def test_a_stable_ad_and_a_low_frequency_ad_are_left_alone() -> None:
    assert propose_creative_refresh(_account(_ad(lambda d: 0.02)), CreativeFatigueSettings()) == []
    # Same decay, but an audience of 10 million: each person saw it 0.01 times, so it is not fatigue.
    big = _account(_ad(_decaying), audience_size=10_000_000)
    assert propose_creative_refresh(big, CreativeFatigueSettings()) == []


def test_too_few_impressions_cannot_prove_a_decline() -> None:
    small = rows("ad1", 21, spend=5, impressions=100, clicks=lambda d: round(100 * _decaying(d)), level="ad")
    assert propose_creative_refresh(_account(small), CreativeFatigueSettings()) == []


def test_paused_ads_are_not_refreshed() -> None:
    paused = snapshot([entity("s1"), entity("ad1", level="ad", parent="s1", status="PAUSED")], _ad(_decaying))
    assert propose_creative_refresh(paused, CreativeFatigueSettings()) == []
