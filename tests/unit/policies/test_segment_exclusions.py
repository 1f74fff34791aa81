"""The segment exclusion policy: the underperformers' evidence bar, only levers the platform has, and
the guardrail on how much of an ad set's delivery one change may cut."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from connectors.records import Entity, SegmentRow
from policies.roas_evidence import WindowEvidence
from policies.segment_exclusions import (
    SegmentExclusionSettings,
    SegmentWindow,
    campaign_level,
    lever_for,
    one_location_cut_per_campaign,
    propose,
)
from policies.segment_windows import segment_windows

TODAY = date(2026, 11, 23)
START, END = date(2026, 10, 26), date(2026, 11, 22)
SETTINGS = SegmentExclusionSettings(target_roas=2.0, confidence=0.975, min_spend=Decimal("100"), min_days=7)


def _ad_set(platform: str, **attributes: object) -> Entity:
    return Entity(platform, "acct", "ad_set", "s1", "c1", "Ad set", "ACTIVE", "EUR", attributes=attributes)


def _segment(dimension: str, segment: str, spend: int, conversions: float, value_per_conversion: int = 50
             ) -> SegmentWindow:
    money = Decimal(spend)
    return SegmentWindow(dimension, segment, WindowEvidence(
        START, END, money, float(money), conversions, Decimal(str(conversions * value_per_conversion)),
        int(conversions * 20), int(conversions * 2000), 28, float(money)))


def _placements(worst_spend: int = 1000, worst_conversions: float = 2) -> list[SegmentWindow]:
    return [_segment("placement", "facebook_feed", 3000, 180), _segment("placement", "instagram_feed", 2000, 110),
            _segment("placement", "audience_network_classic", worst_spend, worst_conversions)]


def test_a_segment_clearly_below_target_is_excluded_with_its_evidence() -> None:
    [proposal] = propose("meta", "acct", _ad_set("meta"), _placements(), SETTINGS, TODAY)
    assert proposal.kind == "exclude_placement"
    assert proposal.change["to"] == {"dimension": "placement", "segment": "audience_network_classic", "excluded": True}
    evidence = proposal.evidence
    assert evidence["probability_below_target"] >= 0.975 and evidence["roas_high"] < 2.0
    assert evidence["spend_share"] == round(1000 / 6000, 4) and evidence["lever"] == "placement exclusion"


def test_too_little_evidence_proposes_nothing() -> None:
    thin = [_segment("placement", "facebook_feed", 300, 18), _segment("placement", "audience_network_classic", 60, 0)]
    assert propose("meta", "acct", _ad_set("meta"), thin, SETTINGS, TODAY) == []
    close_call = _placements(worst_conversions=30)  # ROAS 1.5 on 1000: not sure enough
    assert propose("meta", "acct", _ad_set("meta"), close_call, SETTINGS, TODAY) == []


def test_one_change_never_cuts_more_than_the_guardrail_share() -> None:
    big = _placements(worst_spend=4000, worst_conversions=8)  # 44% of the ad set
    assert propose("meta", "acct", _ad_set("meta"), big, SETTINGS, TODAY) == []


def test_only_levers_the_platform_has() -> None:
    assert lever_for("google_ads", "device") == ("set_device_bid_modifier", "device bid modifier -100%")
    assert lever_for("google_ads", "placement") is None and lever_for("meta", "gender") is None
    assert lever_for("linkedin", "company_size") == ("exclude_company_size", "company-size exclusion")
    devices = [_segment("device", "desktop", 3000, 180), _segment("device", "tablet", 1000, 1)]
    [google] = propose("google_ads", "acct", _ad_set("google_ads"), devices, SETTINGS, TODAY)
    assert google.change["to"]["bid_modifier"] == -1.0  # Smart Bidding honours only -100%
    assert propose("meta", "acct", _ad_set("meta"), devices, SETTINGS, TODAY) == []


def test_linkedin_keeps_an_audience_of_at_least_300_members() -> None:
    sizes = [_segment("company_size", "51-200", 3000, 180), _segment("company_size", "1", 1000, 1)]
    assert propose("linkedin", "acct", _ad_set("linkedin", audience_size=380), sizes, SETTINGS, TODAY) == []
    [proposal] = propose("linkedin", "acct", _ad_set("linkedin", audience_size=50_000), sizes, SETTINGS, TODAY)
    assert proposal.change["to"]["segment"] == "1"


def test_unknown_and_already_excluded_segments_are_never_proposed() -> None:
    unknown = [_segment("placement", "facebook_feed", 3000, 180), _segment("placement", "unknown", 1000, 0)]
    assert propose("meta", "acct", _ad_set("meta"), unknown, SETTINGS, TODAY) == []
    excluded = _ad_set("meta", excluded_segments={"placement": ["audience_network_classic"]})
    assert propose("meta", "acct", excluded, _placements(), SETTINGS, TODAY) == []


def test_the_best_segment_of_a_losing_ad_set_is_not_cut() -> None:
    # feeds are too big to cut in one change; stories (ROAS 0.6 against 0.17 elsewhere) is the best part
    losing = [_segment("placement", "facebook_feed", 3000, 10), _segment("placement", "instagram_feed", 2500, 8),
              _segment("placement", "instagram_stories", 1000, 12)]
    assert propose("meta", "acct", _ad_set("meta"), losing, SETTINGS, TODAY) == []


def test_linkedin_picks_the_segment_with_the_most_money_across_its_levers() -> None:
    assert lever_for("linkedin", "seniority") == ("exclude_seniority", "seniority exclusion")
    assert lever_for("linkedin", "industry") == ("exclude_industry", "industry exclusion")
    assert lever_for("linkedin", "job_function") == ("exclude_job_function", "job-function exclusion")
    assert lever_for("linkedin", "region") is None  # no lever: never proposed
    windows = [_segment("company_size", "51-200", 3000, 180), _segment("company_size", "1", 600, 1),
               _segment("seniority", "senior", 3000, 180), _segment("seniority", "entry", 1100, 2),
               _segment("industry", "software-development", 3500, 190), _segment("industry", "industry-77", 800, 1),
               _segment("job_function", "engineering", 3000, 180), _segment("job_function", "sales", 500, 0)]
    [proposal] = propose("linkedin", "acct", _ad_set("linkedin", audience_size=50_000), windows, SETTINGS, TODAY)
    assert proposal.kind == "exclude_seniority"  # entry: 1,100 below target, more than industry-77 or size 1
    assert proposal.change["to"] == {"dimension": "seniority", "segment": "entry", "excluded": True}
    assert proposal.evidence["spend_share"] == round(1100 / 4100, 4)  # its share of its own dimension's split
    already = _ad_set("linkedin", audience_size=50_000, excluded_segments={"seniority": ["entry"]})
    [next_best] = propose("linkedin", "acct", already, windows, SETTINGS, TODAY)
    assert (next_best.kind, next_best.change["to"]["segment"]) == ("exclude_industry", "industry-77")
    cut = {"seniority": ["entry"], "industry": ["industry-77"], "company_size": ["1"]}
    both = _ad_set("linkedin", audience_size=50_000, excluded_segments=cut)
    [function] = propose("linkedin", "acct", both, windows, SETTINGS, TODAY)
    assert function.kind == "exclude_job_function"
    assert function.change["to"] == {"dimension": "job_function", "segment": "sales", "excluded": True}


def _ages(young_spend: int = 1000, old_spend: int = 600) -> list[SegmentWindow]:
    return [_segment("age", "18-24", young_spend, 2), _segment("age", "25-34", 3000, 180),
            _segment("age", "35-44", 2500, 150), _segment("age", "45-54", 900, 1), _segment("age", "65+", old_spend, 1)]


def test_meta_narrows_the_age_range_only_at_an_end_and_never_where_meta_forbids_it() -> None:
    [proposal] = propose("meta", "acct", _ad_set("meta"), _ages(), SETTINGS, TODAY)
    assert proposal.kind == "narrow_age_range"  # 18-24 is the loser with the most money, at the lower end
    assert proposal.change["from"] == {"dimension": "age", "segment": "18-24", "excluded": False,
                                       "age_min": 18, "age_max": 65}
    assert proposal.change["to"] == {"dimension": "age", "segment": "18-24", "excluded": True,
                                     "age_min": 25, "age_max": 65}
    # 45-54 loses more money than 65+ but sits inside the range: only the upper end can go
    [upper] = propose("meta", "acct", _ad_set("meta", age_min=25), _ages(young_spend=0), SETTINGS, TODAY)
    assert upper.change["to"]["segment"] == "65+" and upper.change["to"]["age_max"] == 64
    inside = [_segment("age", "25-34", 3000, 180), _segment("age", "45-54", 900, 1),
              _segment("age", "55-64", 3000, 180)]
    assert propose("meta", "acct", _ad_set("meta", age_min=25, age_max=64), inside, SETTINGS, TODAY) == []
    for blocked in (_ad_set("meta", special_ad_categories=["HOUSING"]), _ad_set("meta", advantage_audience=True)):
        assert propose("meta", "acct", blocked, _ages(), SETTINGS, TODAY) == []
    [google] = propose("google_ads", "acct", _ad_set("google_ads"), _ages(), SETTINGS, TODAY)
    assert google.kind == "exclude_age_range" and "age_min" not in google.change["to"]  # Google excludes a band


def test_meta_regions_are_judged_only_where_their_rows_carry_conversions() -> None:
    # Meta's region breakdown reports no off-Meta conversions: they all sit in `unknown`
    type_1 = [_segment("region", "bavaria", 3000, 0), _segment("region", "berlin", 1000, 0),
              _segment("region", "unknown", 0, 120)]
    assert propose("meta", "acct", _ad_set("meta"), type_1, SETTINGS, TODAY) == []
    with_conversions = [_segment("region", "bavaria", 3000, 180), _segment("region", "hamburg", 2000, 110),
                        _segment("region", "berlin", 1000, 1)]
    [proposal] = propose("meta", "acct", _ad_set("meta"), with_conversions, SETTINGS, TODAY)
    assert proposal.kind == "exclude_region" and proposal.change["to"]["segment"] == "berlin"


def test_google_excludes_an_age_range_or_gender_on_the_ad_group_the_segment_with_the_most_money() -> None:
    assert lever_for("google_ads", "age") == ("exclude_age_range", "age range exclusion")
    assert lever_for("google_ads", "gender") == ("exclude_gender", "gender exclusion")
    windows = [_segment("device", "desktop", 3000, 180), _segment("device", "tablet", 700, 1),
               _segment("age", "25-34", 3000, 180), _segment("age", "45-54", 1200, 2),
               _segment("gender", "female", 3000, 180), _segment("gender", "male", 900, 1)]
    [proposal] = propose("google_ads", "acct", _ad_set("google_ads"), windows, SETTINGS, TODAY)
    assert proposal.kind == "exclude_age_range"  # 45-54, inside the range: Google excludes any band
    assert proposal.change["to"] == {"dimension": "age", "segment": "45-54", "excluded": True}


def _rows(ad_group: str, region: str, spend: int, conversions: float, value_per_conversion: int = 50
          ) -> list[SegmentRow]:
    """Four weeks of one ad group's region rows, the spend and conversions spread evenly."""
    per_day = (Decimal(spend) / 28).quantize(Decimal("0.01"))
    return [SegmentRow("google_ads", "acct", ad_group, START + timedelta(days=i), "region", region, "EUR",
                       per_day if i else Decimal(spend) - 27 * per_day, 0, 0, conversions / 28,
                       Decimal(conversions * value_per_conversion) / 28) for i in range(28)]


def _campaign_windows(*rows: list[SegmentRow]) -> list[SegmentWindow]:
    """What the shell (agent/decisions/segment_proposals.py) hands over for a campaign-level lever:
    the campaign's ad groups' region rows summed per region."""
    return segment_windows([r for part in rows for r in part], START, END, lambda day: 1.0)


def test_google_excludes_a_location_on_the_campaign_judged_on_the_campaign_evidence() -> None:
    assert lever_for("google_ads", "region") == ("exclude_location", "location exclusion on the campaign")
    assert campaign_level("google_ads", "region") and not campaign_level("meta", "region")
    assert not campaign_level("google_ads", "age")
    # texas loses in both ad groups: 1,000 of the campaign's 6,000 at ROAS 0.1
    windows = _campaign_windows(_rows("g1", "california", 2500, 150), _rows("g2", "california", 2500, 150),
                                _rows("g1", "texas", 600, 1), _rows("g2", "texas", 400, 1))
    [proposal] = propose("google_ads", "acct", _ad_set("google_ads"), windows, SETTINGS, TODAY)
    assert proposal.kind == "exclude_location"
    assert proposal.change == {"from": {"dimension": "region", "segment": "texas", "excluded": False},
                               "to": {"dimension": "region", "segment": "texas", "excluded": True}}
    evidence = proposal.evidence
    assert evidence["scope"] == "campaign" and Decimal(evidence["campaign_spend"]) == 6000
    assert evidence["spend_share"] == round(1000 / 6000, 4)  # the campaign's share: the guardrail's measure
    assert "of the campaign's spend" in proposal.rationale
    # already excluded on the campaign (every ad group shows it): nothing more to cut
    excluded = _ad_set("google_ads", excluded_segments={"region": ["texas"]})
    assert propose("google_ads", "acct", excluded, windows, SETTINGS, TODAY) == []


def test_a_location_losing_in_one_ad_group_but_not_in_its_campaign_is_not_cut() -> None:
    # g1 loses in texas, but g2 sells well there: the campaign's texas is above target
    windows = _campaign_windows(_rows("g1", "california", 2500, 150), _rows("g2", "california", 2500, 150),
                                _rows("g1", "texas", 600, 0), _rows("g2", "texas", 900, 60))
    assert propose("google_ads", "acct", _ad_set("google_ads"), windows, SETTINGS, TODAY) == []
    # and a region that is a small share of one ad group but a large one of the campaign is held back
    big = _campaign_windows(_rows("g1", "california", 2500, 150), _rows("g1", "texas", 300, 0),
                            _rows("g2", "texas", 2500, 10))
    assert propose("google_ads", "acct", _ad_set("google_ads"), big, SETTINGS, TODAY) == []  # 53% > 35%


def test_a_campaign_gets_one_location_cut_for_all_its_ad_groups() -> None:
    windows = _campaign_windows(_rows("g1", "california", 2500, 150), _rows("g2", "california", 2500, 150),
                                _rows("g1", "texas", 600, 1), _rows("g2", "texas", 400, 1))
    first = Entity("google_ads", "acct", "ad_set", "g1", "c1", "Ad group 1", "ACTIVE", "EUR", attributes={})
    second = Entity("google_ads", "acct", "ad_set", "g2", "c1", "Ad group 2", "ACTIVE", "EUR", attributes={})
    other = Entity("google_ads", "acct", "ad_set", "g3", "c2", "Ad group 3", "ACTIVE", "EUR", attributes={})
    proposals = [p for e in (second, first, other) for p in propose("google_ads", "acct", e, windows, SETTINGS, TODAY)]
    assert len(proposals) == 3
    kept = one_location_cut_per_campaign(proposals, {"g1": "c1", "g2": "c1", "g3": "c2"})
    assert [(p.entity_id, p.change["to"]["segment"]) for p in kept] == [("g1", "texas"), ("g3", "texas")]
