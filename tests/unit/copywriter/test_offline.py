import os
import subprocess
import sys
from pathlib import Path

from agent.copywriter.drafting import DraftRequest
from agent.copywriter.history import ad_set_context
from agent.copywriter.offline import OfflineDrafter, rethemed
from agent.copywriter.proposals import learn_account
from agent.copywriter.settings import BrandSettings, CopywriterSettings
from agent.copywriter.text import char_count
from tests.unit.copywriter.account import account

ROOT = Path(__file__).resolve().parents[3]


def _request(count: int = 3, brand: BrandSettings | None = None) -> DraftRequest:
    snapshot, _ = account(ad_sets=6)
    learnt = learn_account(snapshot, CopywriterSettings())
    context = ad_set_context(snapshot, snapshot.entities["s2"])
    return DraftRequest("meta", learnt.limits, context, brand or BrandSettings(), learnt.patterns, learnt.history,
                        count, "test", learnt.themes)


def test_rethemed_keeps_the_case_style() -> None:
    assert rethemed("Trail Running Shoes — 20% off", "trail running shoes", "running jacket") == "Running Jacket — 20% off"
    assert rethemed("STRIDE TRAIL RUNNING SHOES", "trail running shoes", "running jacket") == "STRIDE RUNNING JACKET"
    assert rethemed("Our trail running shoes.", "trail running shoes", "running jacket") == "Our running jacket."


def test_offline_drafts_recombine_winning_components_within_limits() -> None:
    request = _request()
    result = OfflineDrafter().draft(request)
    assert len(result.variants) == 3 and not result.errors
    for variant in result.variants:
        assert variant.drafter == "offline"
        assert char_count(variant.headlines[0]) <= 40 and char_count(variant.descriptions[0]) <= 125
        assert "!!!" not in variant.descriptions[0]  # the losing (loud) components are not picked first
        assert variant.call_to_action == "SHOP_NOW"
    assert any("Running Jacket" in v.headlines[0] for v in result.variants)  # re-themed for ad set s2


def test_offline_drafts_respect_brand_rules() -> None:
    result = OfflineDrafter().draft(_request(brand=BrandSettings(banned_words=["rated"])))
    assert result.variants and all("rated" not in v.descriptions[0].lower() for v in result.variants)


def test_offline_drafter_is_deterministic_across_processes() -> None:
    first = OfflineDrafter().draft(_request())
    assert OfflineDrafter().draft(_request()) == first
    script = ("from tests.unit.copywriter.test_offline import _request; from agent.copywriter.offline import "
              "OfflineDrafter; print([v.headlines + v.descriptions for v in OfflineDrafter().draft(_request()).variants])")
    outputs = {subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outputs) == 1
    assert outputs.pop().strip() == str([v.headlines + v.descriptions for v in first.variants])
