"""Winning patterns name real phrases, never tokenizer artifacts."""

from agent.copywriter.features import FEATURE_NAMES
from agent.copywriter.patterns import candidate_phrases, find_patterns
from agent.copywriter.proposals import learn_account
from agent.copywriter.settings import CopywriterSettings
from agent.copywriter.text import words
from tests.unit.copywriter.account import account


def test_a_rating_stays_one_token() -> None:
    assert words("Rated 4.7 by 12k runners") == ["rated", "4.7", "by", "12k", "runners"]
    assert words("20% off, 1,000 pairs sold") == ["20%", "off", "1,000", "pairs", "sold"]
    assert words("Top choice, shop now") == ["top", "choice", "shop", "now"]  # a comma between words splits


def test_rated_4_7_never_yields_the_pattern_4_7() -> None:
    phrases = candidate_phrases("Rated 4.7 by runners. 20% off this week")
    assert "4 7" not in phrases and "rated 4" not in phrases and "7 by" not in phrases
    assert {"rated 4.7", "4.7", "20% off"} <= phrases


def test_phrases_do_not_cross_sentences_or_dashes() -> None:
    phrases = candidate_phrases("Any terrain. Rated 4.7 by runners — 20% off")
    assert "terrain rated" not in phrases and "runners 20%" not in phrases


def test_account_patterns_are_phrases_found_in_the_ads() -> None:
    snapshot, _ = account(ad_sets=6)
    learnt = learn_account(snapshot, CopywriterSettings())
    named = {p.name for p in learnt.patterns} | {a for p in learnt.patterns for a in p.same_ads_as}
    everything = " ".join(r.text.all_text.casefold() for r in learnt.history)
    grams = [n.strip('"') for n in named if n.startswith('"')]
    assert grams and all(gram in everything for gram in grams), grams


def test_every_candidate_ngram_is_a_phrase_of_an_ad() -> None:
    snapshot, _ = account(ad_sets=6)
    learnt = learn_account(snapshot, CopywriterSettings())
    features = {r.ad_id: dict.fromkeys(FEATURE_NAMES, 0.0) for r in learnt.history}
    found = find_patterns(learnt.history, features, min_ads=2, min_z=0.01, max_patterns=500)
    grams = [n.strip('"') for p in found for n in (p.name, *p.same_ads_as) if n.startswith('"')]
    texts = [r.text.all_text.casefold() for r in learnt.history]
    assert grams
    assert all(any(gram in text for text in texts) for gram in grams), grams


def test_japanese_is_cut_where_the_script_changes_and_phrases_are_written_without_spaces() -> None:
    assert words("ランニングジャケットが今週20%オフ") == ["ランニングジャケット", "が", "今週", "20%", "オフ"]
    phrases = candidate_phrases("1.2万人のランナーが4.8と評価。今週20%オフ。")
    assert {"20%オフ", "1.2万人", "4.8", "評価", "ランナー"} <= phrases
    assert not any(" " in phrase for phrase in phrases)  # no "20% オフ"
    assert "ランナーが" not in phrases and "のランナー" not in phrases  # particles make no phrase
    assert "評価今週" not in phrases  # nor across the sentence end


def test_a_japanese_account_finds_its_winning_phrases() -> None:
    snapshot, _ = account(ad_sets=6, japanese=True)
    learnt = learn_account(snapshot, CopywriterSettings())
    named = {n.strip('"') for p in learnt.patterns for n in (p.name, *p.same_ads_as) if n.startswith('"')}
    texts = [r.text.all_text for r in learnt.history]
    assert named and all(any(gram in text for text in texts) for gram in named), named
