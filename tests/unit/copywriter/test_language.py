"""Drafts are written in the account's (or the segment's) language."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import SecretStr, ValidationError

from agent.cli import main
from agent.copywriter import CopywriterSettings, draft_new_ads
from agent.copywriter.language import detect_language, dominant_language, fits, script_of
from agent.copywriter.offline import OfflineDrafter, rethemed
from agent.copywriter.settings import BrandSettings, CopySegment, OpenAISettings
from agent.copywriter.text import char_count
from tests.fakes.openai_server import FakeOpenAI, variants
from tests.unit.copywriter.account import account, refresh

ROOT = Path(__file__).resolve().parents[3]


def _texts(proposal: object) -> list[str]:
    to = proposal.change["to"]  # type: ignore[attr-defined]
    return [*to.get("headlines", [to["headline"]]), *to.get("descriptions", [to["description"]])]


def test_detection_by_script_and_common_words() -> None:
    assert detect_language("あなたにぴったりの一足を見つけましょう。") == "ja"
    assert detect_language("Find the shoe that suits you and your runs") == "en"
    assert detect_language("Finden Sie jetzt Ihren neuen Laufschuh für jeden Tag") == "de"
    assert detect_language("Trouvez la chaussure pour vous et votre course") == "fr"
    assert detect_language("Encuentra tu nuevo par para cada día") == "es"
    assert detect_language("Trail Shoes 20%") is None  # a short Latin piece says no language
    assert not fits("Trail Shoes 20%", "ja") and fits("Trail Shoes 20%", "en") and fits("4.8", "ja")
    assert dominant_language(["Rated 4.8 by runners", "Shop the new range for you", "ランをもっと楽しく。"]) == "en"


def test_a_japanese_account_gets_japanese_copy_though_its_ads_are_english() -> None:
    snapshot, _ = account()  # every ad is in English, as an account set up from a template is
    settings = CopywriterSettings(language="ja", brand=BrandSettings(name="Stride"))
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], settings, OfflineDrafter())
    assert report.proposals, report.as_dict()
    english_sentences = {s.strip() for ad in snapshot.entities.values() if ad.level == "ad"
                         for s in str(ad.attributes.get("description", "")).split(".") if s.strip()}
    for proposal in report.proposals:
        for text in _texts(proposal):
            assert script_of(text) == "kana", text  # Japanese, not English
            assert not any(sentence in text for sentence in english_sentences), text
        assert proposal.evidence["language"] == "ja" and "in ja" in proposal.rationale


def test_a_japanese_account_recombines_its_own_japanese_ads_without_a_setting() -> None:
    snapshot, _ = account(japanese=True)
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(), OfflineDrafter())
    assert report.proposals
    own = {ad.attributes["description"] for ad in snapshot.entities.values() if ad.level == "ad"}
    pieces = {sentence + "。" for body in own for sentence in body.split("。") if sentence}
    for proposal in report.proposals:
        body = proposal.change["to"]["description"]
        assert detect_language(body) == "ja" and " " not in body  # Japanese sentences are joined without spaces
        assert any(piece in body for piece in pieces)  # recombined from the account's own sentences
        assert char_count(body) <= 125


def test_google_counts_japanese_characters_twice_and_drafts_still_fit() -> None:
    snapshot, _ = account(platform="google_ads", japanese=True)
    snapshot = snapshot.replaced(platform="google_ads")
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(language="ja"),
                           OfflineDrafter())
    assert report.proposals, report.as_dict()
    for proposal in report.proposals:
        to = proposal.change["to"]
        assert len(to["headlines"]) >= 3 and all(char_count(h, True) <= 30 for h in to["headlines"])
        assert all(script_of(t) in ("kana", "han") for t in _texts(proposal))
        themes = {"トレイルランニングシューズ", "コンプレッションソックス", "ロードランニングシューズ", "ランニングショーツ",
                  "マラソンシューズ"}  # the other ad sets' products are re-themed away (no spaces in Japanese)
        assert not any(theme in text for theme in themes for text in _texts(proposal)), _texts(proposal)


@pytest.mark.parametrize("language, word", [("de", "Sie"), ("fr", "vous"), ("es", "tu")])
def test_templates_fill_in_for_other_languages(language: str, word: str) -> None:
    snapshot, _ = account()
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(language=language),
                           OfflineDrafter())
    assert report.proposals
    assert all(detect_language(p.change["to"]["description"]) == language for p in report.proposals)


def test_a_segment_can_have_its_own_language() -> None:
    snapshot, _ = account()
    settings = CopywriterSettings(segments=[CopySegment(name="japan", description="Runners living in Japan",
                                                        language="ja")])
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], settings, OfflineDrafter())
    general = [p for p in report.proposals if "segment" not in p.evidence]
    japan = [p for p in report.proposals if p.evidence.get("segment", {}).get("name") == "japan"]
    assert general and japan
    assert all(detect_language(p.change["to"]["description"]) == "en" for p in general)
    assert all(script_of(p.change["to"]["description"]) == "kana" for p in japan)


def test_japanese_themes_are_replaced_inside_words() -> None:
    assert rethemed("ストライドマラソンシューズ", "マラソンシューズ", "ランニングジャケット") == "ストライドランニングジャケット"


def test_a_language_that_is_not_a_code_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a language code"):
        CopywriterSettings(language="Japanese")


def test_the_prompt_asks_the_model_for_the_accounts_language() -> None:
    server = FakeOpenAI().start()
    try:
        server.script = [variants({"headlines": ["ランニングジャケットが20%オフ"],
                                   "descriptions": ["お客様の評価は4.8です。"], "call_to_action": "SHOP_NOW"})]
        snapshot, _ = account()
        settings = CopywriterSettings(language="ja", drafter="openai", openai=OpenAISettings(
            api_key=SecretStr("sk-test"), base_url=server.base_url, model="test-model", retry_initial_seconds=0))
        report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], settings)
        system, user = server.requests[0]["messages"][0]["content"], server.requests[0]["messages"][1]["content"]
    finally:
        server.stop()
    assert "be written in Japanese (language code ja)" in system
    assert json.loads(user)["language"] == "ja"
    assert report.proposals and report.proposals[0].change["to"]["headline"] == "ランニングジャケットが20%オフ"


def test_config_check_names_a_bad_language_or_segment_in_one_line(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    raw["database_url"] = f"sqlite:///{tmp_path / 'db.sqlite'}"
    raw["accounts"][0]["copywriter"] = {"language": "Japanese",
                                        "segments": [{"name": "young", "description": "18 to 24", "dimension": "age"}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert "accounts[0].copywriter.language" in result.output and "'Japanese' is not a language code" in result.output
    assert "give both dimension and segment" in result.output and "Traceback" not in result.output
    raw["accounts"][0]["copywriter"] = {"language": "ja", "segments": [
        {"name": "young", "description": "18 to 24", "dimension": "age", "segment": "18-24"}]}
    path.write_text(yaml.safe_dump(raw))
    assert CliRunner().invoke(main, ["config", "check", "--config", str(path)]).exit_code == 0


def test_an_ad_set_written_in_another_language_than_the_account_keeps_its_own() -> None:
    english, _ = account(ad_sets=4)
    japanese, _ = account(ad_sets=6, japanese=True)
    # ad sets s5 and s6 of the English account become Japanese: the account is mostly English
    entities = dict(english.entities)
    daily = dict(english.daily)
    for entity_id, entity in japanese.entities.items():
        if entity_id.startswith(("s5", "s6")):
            entities[entity_id] = entity
            daily[entity_id] = japanese.daily[entity_id]
    mixed = replace(english, entities=entities, daily=daily)
    report = draft_new_ads(mixed, [refresh(mixed, "s6-a1"), refresh(mixed, "s2-a1")], CopywriterSettings(),
                           OfflineDrafter())
    by_ad_set = {p.entity_id: p for p in report.proposals}
    assert by_ad_set["s6"].evidence["language"] == "ja" and script_of(by_ad_set["s6"].change["to"]["description"]) == "kana"
    assert by_ad_set["s2"].evidence["language"] == "en"
