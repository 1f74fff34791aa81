from dataclasses import replace

from agent.copywriter import CopywriterSettings, DraftRequest, DraftResult, Variant, draft_new_ads
from agent.copywriter.offline import OfflineDrafter
from agent.copywriter.settings import BrandSettings
from tests.unit.copywriter.account import account, refresh


class ScriptedDrafter:
    """Returns fixed variants (good and bad) so the validation and ranking steps can be seen."""

    label = "scripted"

    def __init__(self, variants: list[Variant]) -> None:
        self.variants = variants
        self.requests: list[DraftRequest] = []

    def draft(self, request: DraftRequest) -> DraftResult:
        self.requests.append(request)
        return DraftResult(list(self.variants))


def v(headline: str, body: str, cta: str | None = "SHOP_NOW") -> Variant:
    return Variant((headline,), (body,), cta, "scripted")


def test_a_fatigued_ad_gets_paused_new_ads_with_evidence() -> None:
    snapshot, _ = account()
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(), OfflineDrafter())
    assert report.drafter == "offline" and report.ad_sets == ["s2"] and report.model == "empirical_bayes"
    assert 1 <= len(report.proposals) <= 2
    proposal = report.proposals[0]
    assert (proposal.kind, proposal.entity_id, proposal.entity_level, proposal.policy) == ("new_ad", "s2", "ad_set",
                                                                                           "copywriter")
    assert proposal.change["from"] == {}
    to = proposal.change["to"]
    assert to["status"] == "PAUSED" and to["headline"] and to["description"] and to["call_to_action"] == "SHOP_NOW"
    evidence = proposal.evidence
    assert evidence["drafter"] == "offline" and evidence["trigger"]["kind"] == "creative_fatigue"
    predicted = evidence["predicted_ctr"]
    assert predicted["interval"][0] < predicted["ctr"] < predicted["interval"][1]
    assert predicted["interval_level"] == 0.8 and predicted["ctr"] > predicted["baseline_ctr"]
    assert any(p["pattern"] == "has_number" for p in evidence["patterns"])
    assert 0.5 < evidence["confidence"] <= 1
    assert "creative fatigue" in proposal.rationale and "paused" in proposal.rationale


def test_rejected_drafts_are_counted_not_proposed() -> None:
    snapshot, _ = account()
    existing = snapshot.entities["s2-a3"].attributes  # the GOOD ad of s2
    drafter = ScriptedDrafter([
        v("Running Jacket — 20% off for every run you take", "Too long a headline."),
        v("Get {product} now", "Rated 4.8 by runners."),
        v(str(existing["headline"]), str(existing["description"])),
        v("Stay dry: Running Jacket, 15% off", "Rated 4.8 by 12k runners. Shop yours today."),
        v("Stay dry: Running Jacket, 15% off", "Rated 4.8 by 12k runners. Shop yours today!"),
        v("Guaranteed dry runs", "Shop the running jacket.", "REQUEST_DEMO"),
    ])
    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], CopywriterSettings(), drafter)
    assert report.drafted == 6 and report.rejected == 5
    assert report.rejected_counts == {"length": 1, "placeholder": 1, "duplicate": 2, "banned_claim": 1, "cta": 1}
    assert [p.change["to"]["headline"] for p in report.proposals] == ["Stay dry: Running Jacket, 15% off"]
    assert report.proposals[0].evidence["validation"]["rejected_siblings"]["duplicate"] == 2
    assert report.as_dict()["rejected"] == 5


def test_low_ctr_ad_sets_are_triggered_without_fatigue() -> None:
    snapshot, _ = account(ad_sets=6)
    # s1 has the lowest CTR (base x1.0 against up to x1.75): below 70% of the median.
    report = draft_new_ads(snapshot, [], CopywriterSettings(low_ctr_ratio=0.8), OfflineDrafter())
    assert "s1" in report.ad_sets
    trigger = next(p for p in report.proposals if p.entity_id == "s1").evidence["trigger"]
    assert trigger["kind"] == "low_ctr" and trigger["ratio"] < 0.8


def test_skipped_protected_disabled_and_unknown_platform() -> None:
    snapshot, _ = account()
    fatigue = [refresh(snapshot, "s2-a1")]
    assert draft_new_ads(snapshot, fatigue, CopywriterSettings(), OfflineDrafter(), skip_ad_sets={"s2"}).ad_sets == []
    protected = replace(snapshot, protected_entities=frozenset({"c1"}))
    assert draft_new_ads(protected, fatigue, CopywriterSettings(), OfflineDrafter()).proposals == []
    assert draft_new_ads(snapshot, fatigue, CopywriterSettings(enabled=False)).proposals == []
    tiktok = replace(snapshot, platform="tiktok")
    report = draft_new_ads(tiktok, fatigue, CopywriterSettings(), OfflineDrafter())
    assert report.proposals == [] and "no ad text limits" in report.errors[0]


def test_a_failing_drafter_is_reported_and_the_rest_goes_on() -> None:
    snapshot, _ = account()

    class Broken:
        label = "broken"

        def draft(self, request: DraftRequest) -> DraftResult:
            raise RuntimeError("boom")

    report = draft_new_ads(snapshot, [refresh(snapshot, "s2-a1"), refresh(snapshot, "s4-a1")],
                           CopywriterSettings(), Broken())
    assert report.proposals == [] and len(report.errors) == 2 and "boom" in report.errors[0]


def test_brand_voice_and_patterns_reach_the_drafter() -> None:
    snapshot, _ = account()
    drafter = ScriptedDrafter([])
    settings = CopywriterSettings(brand=BrandSettings(name="Stride Supply", voice="Dry wit."), variants_per_ad_set=4)
    draft_new_ads(snapshot, [refresh(snapshot, "s2-a1")], settings, drafter)
    request = drafter.requests[0]
    assert request.count == 4 and request.brand.voice == "Dry wit." and request.patterns
    assert request.context.theme == "running jacket" and len(request.context.existing) == 3
    assert request.score is not None
