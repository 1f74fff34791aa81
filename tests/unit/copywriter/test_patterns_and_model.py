import math

import pytest

from agent.copywriter.ctr_model import TrainingSet, fit
from agent.copywriter.history import AdText, ad_history
from agent.copywriter.proposals import learn_account
from agent.copywriter.settings import CopywriterSettings
from tests.unit.copywriter.account import account


def test_winning_and_losing_patterns_are_found_within_ad_sets() -> None:
    snapshot, _ = account(ad_sets=6)
    patterns = learn_account(snapshot, CopywriterSettings()).patterns
    by_name = {p.name: p for p in patterns}
    assert by_name["has_number"].winning and by_name["has_number"].z >= 2
    assert by_name["has_number"].ctr_lift == pytest.approx(0.3 / 0.85 - 0, abs=0.25)
    assert any(p.kind == "tone" and not p.winning for p in patterns)  # shouting / exclamation marks lose
    evidence = by_name["has_number"].as_evidence()
    assert evidence["ads_with"] >= 3 and evidence["ads_without"] >= 3 and "same_ads_as" in evidence


def test_no_pattern_without_enough_ads() -> None:
    snapshot, _ = account(ad_sets=1)
    assert learn_account(snapshot, CopywriterSettings()).patterns == []


def test_fresh_ctr_uses_the_first_days_only() -> None:
    snapshot, _ = account(ad_sets=1, days=30)
    records = ad_history(snapshot, fresh_days=14, min_impressions=1000)
    assert {r.impressions for r in records} == {14 * 8000}


@pytest.mark.parametrize("model", ["empirical_bayes", "ridge"])
def test_the_model_learns_what_lifts_ctr_and_brackets_the_truth(model: str) -> None:
    snapshot, truth = account(ad_sets=6, noise=0.05)
    learnt = learn_account(snapshot, CopywriterSettings(ctr_model=model))  # type: ignore[arg-type]
    assert learnt.model.name == model
    good = AdText(("Compression Socks — 15% off today",), ("Rated 4.9 by 5k runners. Buy 2, save 15%.",), "SHOP_NOW")
    loud = AdText(("STRIDE COMPRESSION SOCKS",), ("Amazing compression socks!!! Best prices!!!",), "SHOP_NOW")
    best, worst = learnt.predict(good, "s3", 0.8), learnt.predict(loud, "s3", 0.8)
    assert best.ctr > best.baseline_ctr > worst.ctr
    assert best.low < best.ctr < best.high and best.level == 0.8
    true_good, true_loud = truth["s3-a1"], truth["s3-a3"]  # ad set s3 (index 2): GOOD, PLAIN, LOUD
    assert abs(math.log(best.ctr / true_good)) < 0.25 and abs(math.log(worst.ctr / true_loud)) < 0.25


def test_thin_history_falls_back_to_the_ad_set_baseline() -> None:
    snapshot, _ = account(ad_sets=1)
    learnt = learn_account(snapshot, CopywriterSettings())
    assert learnt.model.name == "baseline"
    records = learnt.history
    text = AdText(("Anything at all",), ("Any body text.",))
    prediction = learnt.predict(text, "s1", 0.8)
    expected = math.exp(sum(r.log_ctr for r in records) / len(records))
    assert prediction.ctr == pytest.approx(expected, rel=0.01)
    assert prediction.low < prediction.ctr < prediction.high


def test_an_ad_set_without_history_uses_the_account() -> None:
    snapshot, _ = account(ad_sets=4)
    learnt = learn_account(snapshot, CopywriterSettings())
    vectors = {r.ad_id: learnt.features(r.text, r.ad_set_id) for r in learnt.history}
    model = fit(TrainingSet.build(learnt.history, vectors), "empirical_bayes")
    unknown = model.predict(vectors["s1-a1"], "no-such-ad-set")
    known = model.predict(vectors["s1-a1"], "s1")
    assert unknown.high / unknown.low > known.high / known.low  # wider: the ad set's level is unknown
