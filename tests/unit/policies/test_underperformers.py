"""Bayesian pauses: hand-computed posterior, exclusions, and the conversion-lag correction."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from policies.base import ConversionRevision
from policies.conversion_lag import estimate_lag_curve
from policies.robust_baseline import poisson_cdf
from policies.settings import UnderperformersSettings
from policies.underperformers import propose_pauses
from tests.unit.policies.builders import NO_LAG, TODAY, entity, rows, snapshot


def _account(loser_conversions: float = 1, loser_value: float = 150, **loser_entity: object):
    """A healthy ad set (ROAS 4) and a candidate spending 100/day."""
    entities = [entity("good"), entity("cand", **loser_entity)]  # type: ignore[arg-type]
    data = rows("good", 14, spend=100, conversions=4, value=400) + rows(
        "cand", 14, spend=100, conversions=loser_conversions, value=loser_value)
    return snapshot(entities, data)


def test_posterior_probability_matches_the_hand_computed_gamma_poisson_value() -> None:
    # Prior weight 0 and (almost) no value noise: ROAS = rate x 150 with rate ~ Gamma(10, 1000), so
    # P(ROAS < 2) = P(Gamma(10, 1) < 1000 * 2 / 150) = P(Poisson(13.33) >= 10) = 0.855.
    entities = [entity("good"), entity("cand")]
    data = rows("good", 10, spend=100, conversions=4, value=400) + rows("cand", 10, spend=100, conversions=1, value=150)
    expected = 1 - poisson_cdf(9, 1000 * 2 / 150)
    settings = UnderperformersSettings(window_days=10, prior_conversions=0, value_cv=0.01, confidence=0.8,
                                       indifference_margin=0)
    (proposal,) = propose_pauses(snapshot(entities, data), settings, curve=NO_LAG)
    assert proposal.entity_id == "cand"
    assert proposal.evidence["p_roas_below_target"] == pytest.approx(expected, abs=0.015)
    assert "85" in proposal.rationale or "86" in proposal.rationale  # the probability, in words
    # The same evidence does not reach a 90% confidence.
    assert propose_pauses(snapshot(entities, data), settings.model_copy(update={"confidence": 0.9}), curve=NO_LAG) == []


def test_a_clear_loser_is_paused_with_its_numbers_and_a_winner_is_not() -> None:
    proposals = propose_pauses(_account(loser_conversions=1, loser_value=50), UnderperformersSettings(), curve=NO_LAG)
    assert [p.entity_id for p in proposals] == ["cand"]
    (proposal,) = proposals
    assert proposal.kind == "pause"
    assert proposal.change == {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}
    assert proposal.evidence["spend"] == "1400.00"
    assert proposal.evidence["p_roas_below_target"] >= 0.9
    assert "P(true ROAS < 1.80, the 2.00 target less a 10% margin)" in proposal.rationale


def test_thin_evidence_near_target_is_not_enough() -> None:
    # Observed ROAS 1.7 on 14 conversions: below target, but not convincingly.
    proposals = propose_pauses(_account(loser_conversions=1, loser_value=170), UnderperformersSettings(), curve=NO_LAG)
    assert proposals == []


@pytest.mark.parametrize("loser_entity", [{"learning": True}, {"status": "PAUSED"}])
def test_learning_and_paused_ad_sets_are_not_judged(loser_entity: dict[str, object]) -> None:
    assert propose_pauses(_account(0, 0, **loser_entity), UnderperformersSettings(), curve=NO_LAG) == []


def test_protected_ad_sets_and_ad_sets_of_protected_campaigns_are_never_paused() -> None:
    base = _account(0, 0)
    for protected in ({"cand"}, {"c1"}):
        protected_snapshot = snapshot(base.entities.values(), [r for rs in base.daily.values() for r in rs],
                                      protected_entities=frozenset(protected))
        assert propose_pauses(protected_snapshot, UnderperformersSettings(), curve=NO_LAG) == []


def test_minimum_spend_and_days_live_gate_the_decision() -> None:
    assert propose_pauses(_account(0, 0), UnderperformersSettings(min_spend=Decimal("5000")), curve=NO_LAG) == []
    entities = [entity("good"), entity("cand")]
    young = rows("good", 14, spend=100, conversions=4, value=400) + rows("cand", 5, spend=300, conversions=0, value=0)
    assert propose_pauses(snapshot(entities, young), UnderperformersSettings(), curve=NO_LAG) == []


def test_no_conversion_in_the_whole_account_is_not_evidence() -> None:
    entities = [entity("a"), entity("b")]
    data = rows("a", 14, spend=100, conversions=0, value=0) + rows("b", 14, spend=100, conversions=0, value=0)
    assert propose_pauses(snapshot(entities, data), UnderperformersSettings(), curve=NO_LAG) == []


def test_lag_correction_keeps_a_recently_launched_ad_set_whose_conversions_are_still_coming() -> None:
    # Launched 7 days ago; true ROAS 2.4, but the young days have reported only part of their value
    # (default curve: 35% at age 1 ... 70% at age 7), so the observed ROAS is about 1.3.
    default = estimate_lag_curve([])
    end = TODAY - timedelta(days=1)

    def reported(full: float):
        return lambda day: full * default.for_day(day, TODAY)

    entities = [entity("good"), entity("new")]
    data = rows("good", 14, spend=100, conversions=reported(4), value=reported(400)) + rows(
        "new", 7, spend=300, conversions=reported(2.4), value=reported(720), end=end)
    settings = UnderperformersSettings(confidence=0.6, min_spend=Decimal("100"), learning_days=0)
    with_lag = snapshot(entities, data)
    assert propose_pauses(with_lag, settings) == []  # default lag curve: corrected ROAS ~2.4
    ignoring_lag = propose_pauses(with_lag, settings, curve=NO_LAG)
    assert [p.entity_id for p in ignoring_lag] == ["new"]  # taken at face value it looks like a loser
    assert ignoring_lag[0].evidence["observed_roas"] < 2.0


def test_disabled_policy_proposes_nothing() -> None:
    assert propose_pauses(_account(0, 0), UnderperformersSettings(enabled=False)) == []


def test_learning_phase_days_count_at_their_lower_efficiency() -> None:
    # Launched 10 days ago: 7 learning days at ROAS 1.54 (70% of 2.2), then 3 days at ROAS 2.2.
    launched = TODAY - timedelta(days=10)

    def learning(day) -> bool:
        return day < launched + timedelta(days=7)

    def conversions(day):
        return 15.4 if learning(day) else 22

    def value(day):
        return 1540 if learning(day) else 2200

    entities = [entity("good"), entity("new", created=launched.isoformat())]
    data = rows("good", 30, spend=1000, conversions=40, value=4000) + rows("new", 10, spend=1000,
                                                                            conversions=conversions, value=value)
    settings = UnderperformersSettings(min_evidence_days=3, confidence=0.51, prior_conversions=0,
                                       consistency_confidence=None)
    assert propose_pauses(snapshot(entities, data), settings, curve=NO_LAG) == []  # corrected ROAS 2.2
    at_face_value = propose_pauses(snapshot(entities, data), settings.model_copy(update={"learning_efficiency": 1.0}),
                                   curve=NO_LAG)
    assert [p.entity_id for p in at_face_value] == ["new"]  # ROAS 1.74 taken at face value
    assert at_face_value[0].evidence["learning_end"] == (launched + timedelta(days=7)).isoformat()
    too_early = settings.model_copy(update={"min_evidence_days": 4, "learning_efficiency": 1.0})
    assert propose_pauses(snapshot(entities, data), too_early, curve=NO_LAG) == []  # 3 days after learning


def test_one_bad_stretch_is_not_a_pattern() -> None:
    # Nine days at ROAS 2.4, then five bad days at ROAS 0.2: the whole window says "below 2", but its
    # older half does not, so the consistency check waits for more evidence.
    switch = TODAY - timedelta(days=5)

    def conversions(day):
        return 10 if day < switch else 1

    def value(day):
        return 1200 if day < switch else 100

    entities = [entity("good"), entity("dip")]
    data = rows("good", 14, spend=500, conversions=10, value=1500) + rows("dip", 14, spend=500,
                                                                          conversions=conversions, value=value)
    settings = UnderperformersSettings(confidence=0.9, window_days=14, consistency_confidence=0.75,
                                       indifference_margin=0)
    assert propose_pauses(snapshot(entities, data), settings, curve=NO_LAG) == []
    unchecked = propose_pauses(snapshot(entities, data), settings.model_copy(update={"consistency_confidence": None}),
                               curve=NO_LAG)
    assert [p.entity_id for p in unchecked] == ["dip"]
    older, newer = unchecked[0].evidence["p_roas_below_target_by_half"]
    assert older < 0.75 < newer


def test_a_settled_ad_set_faces_the_stricter_bar_a_young_one_does_not() -> None:
    # Judged daily, an ad set that has run for weeks gets many chances to dip below target by luck:
    # past `settled_after_days` the bar is `settled_confidence`.
    clear_loser = _account(loser_conversions=1, loser_value=110)  # 14 delivery days, P(ROAS < 2) = 0.989
    strict = UnderperformersSettings(settled_confidence=0.995, settled_after_days=10, indifference_margin=0)
    assert propose_pauses(clear_loser, strict, curve=NO_LAG) == []
    young = strict.model_copy(update={"settled_after_days": 20})
    (proposal,) = propose_pauses(clear_loser, young, curve=NO_LAG)
    assert proposal.evidence["confidence"] == young.confidence
    assert f"threshold {young.confidence:.1%}" in proposal.rationale


def _watched(first_pull_days_ago: int) -> list[ConversionRevision]:
    """The account's stored conversion revisions, the first of them pulled that many days ago."""
    first = TODAY - timedelta(days=first_pull_days_ago)
    return [ConversionRevision(first - timedelta(days=3), 3, 10.0, Decimal("1000")),
            ConversionRevision(TODAY - timedelta(days=2), 1, 10.0, Decimal("1000"))]


def test_the_settled_bar_keeps_rising_with_the_days_the_agent_has_watched_an_ad_set() -> None:
    # 60 days at ROAS 1.2 on one conversion a day: P(ROAS < 2) = 0.997, over the settled 0.985
    entities = [entity("good"), entity("cand")]
    data = rows("good", 60, spend=100, conversions=4, value=400) + rows("cand", 60, spend=100, conversions=1, value=120)
    settings = UnderperformersSettings(indifference_margin=0, settled_tightening=2)
    # watched for 60 days: the bar is 1 - 0.015 x (14 / 60)^2 = 0.99918, not reached
    assert propose_pauses(snapshot(entities, data, conversion_revisions=_watched(60)), settings, curve=NO_LAG) == []
    # the same ad set in an account connected two days ago has been tested twice: the settled bar
    (proposal,) = propose_pauses(snapshot(entities, data, conversion_revisions=_watched(2)), settings, curve=NO_LAG)
    assert proposal.evidence["confidence"] == 0.985
    # and without tightening, 60 days watched face the settled bar too
    flat = settings.model_copy(update={"settled_tightening": 0})
    (proposal,) = propose_pauses(snapshot(entities, data, conversion_revisions=_watched(60)), flat, curve=NO_LAG)
    assert proposal.evidence["confidence"] == 0.985


def test_a_tightened_bar_is_stated_in_the_rationale() -> None:
    entities = [entity("good"), entity("cand")]
    data = rows("good", 60, spend=100, conversions=4, value=400) + rows("cand", 60, spend=100, conversions=1, value=100)
    settings = UnderperformersSettings(indifference_margin=0, settled_tightening=1)
    (proposal,) = propose_pauses(snapshot(entities, data, conversion_revisions=_watched(40)), settings, curve=NO_LAG)
    assert proposal.evidence["days_watched_after_learning"] == 40
    assert proposal.evidence["confidence"] == pytest.approx(1 - 0.015 * 14 / 40)
    assert "(threshold 99.5%, raised for 40 days of daily tests after learning)" in proposal.rationale


def test_the_indifference_margin_spares_an_ad_set_just_under_target_but_not_a_clear_loser() -> None:
    # 60 days at 100/day: ROAS 1.65 on 240 conversions is surely under 2.0, not surely under 1.8.
    entities = [entity("good"), entity("near"), entity("bad")]
    data = (rows("good", 60, spend=100, conversions=4, value=400) + rows("near", 60, spend=100, conversions=4, value=165)
            + rows("bad", 60, spend=100, conversions=4, value=80))
    account = snapshot(entities, data)
    plain = UnderperformersSettings(window_days=60, indifference_margin=0)
    assert sorted(p.entity_id for p in propose_pauses(account, plain, curve=NO_LAG)) == ["bad", "near"]
    margin = plain.model_copy(update={"indifference_margin": 0.1})
    (proposal,) = propose_pauses(account, margin, curve=NO_LAG)
    assert proposal.entity_id == "bad"
    assert proposal.evidence["tested_roas"] == pytest.approx(1.8)
    assert "P(true ROAS < 1.80, the 2.00 target less a 10% margin)" in proposal.rationale
