import pytest

from agent.copywriter.drafting import Variant
from agent.copywriter.history import AdText
from agent.copywriter.limits import limits_for
from agent.copywriter.settings import BrandSettings
from agent.copywriter.validation import clean_variant, validate
from agent.errors import NoTextLimits

BRAND = BrandSettings(name="Planwise", banned_words=["cheap", "best ever"], required_spellings=["LinkedIn"])
GOOGLE_HEADS = ("Gantt Chart Software", "Free 14-day Trial", "Plan Every Project")
GOOGLE_DESCS = ("See capacity at a glance and ship on time.", "Used by 4,000 teams. Start your trial today.")


def rules(variant: Variant, platform: str = "meta", **kwargs: object) -> set[str]:
    return {r.rule for r in validate(clean_variant(variant), limits_for(platform), BRAND, **kwargs)}  # type: ignore[arg-type]


def meta(headline: str = "Plan projects in one place", body: str = "Used by 4,000 teams. Try Planwise free.",
         cta: str | None = "LEARN_MORE") -> Variant:
    return Variant((headline,), (body,), cta, "test")


def test_a_good_variant_passes_on_every_platform() -> None:
    assert rules(meta()) == set()
    assert rules(Variant(("Plan projects in one place",), ("Used by 4,000 teams. Try Planwise free.",),
                         "REQUEST_DEMO", "test"), "linkedin") == set()
    assert rules(Variant(GOOGLE_HEADS, GOOGLE_DESCS, None, "test"), "google_ads") == set()


@pytest.mark.parametrize(("platform", "field", "limit"), [
    ("google_ads", "headline", 30), ("google_ads", "description", 90),
    ("meta", "headline", 40), ("meta", "description", 125),
    ("linkedin", "headline", 70), ("linkedin", "description", 150),
])
def test_length_limits_per_platform_at_the_boundary(platform: str, field: str, limit: int) -> None:
    def variant(text: str) -> Variant:
        if platform == "google_ads":
            heads = (text, *GOOGLE_HEADS[1:]) if field == "headline" else GOOGLE_HEADS
            descs = (text, GOOGLE_DESCS[1]) if field == "description" else GOOGLE_DESCS
            return Variant(heads, descs, None, "test")
        return meta(text if field == "headline" else "Plan it", text if field == "description" else "Plan it", None)

    assert "length" not in rules(variant("x" * limit), platform)
    assert "length" in rules(variant("x" * (limit + 1)), platform)


def test_emoji_and_accents_count_as_one_character_each() -> None:
    assert "length" not in rules(meta(headline="é" * 38 + "👍🏽🇩🇪"))  # 40 graphemes, many more code points
    assert "length" in rules(meta(headline="e\u0301" * 41))


def test_surrounding_and_repeated_whitespace_does_not_count() -> None:
    assert "length" not in rules(meta(headline="  " + "x" * 40 + " \u00a0\n"))
    assert "length" not in rules(meta(headline="x" * 20 + "     " + "x" * 19))
    assert "empty" in rules(meta(headline=" \u200b \t"))


def test_google_counts_wide_characters_twice_and_refuses_emoji() -> None:
    assert "length" in rules(Variant(("日本語の見出しテキストです一二三四五六",) + GOOGLE_HEADS[1:], GOOGLE_DESCS, None, "t"),
                             "google_ads")
    assert "emoji" in rules(Variant(("Plan faster 🚀",) + GOOGLE_HEADS[1:], GOOGLE_DESCS, None, "t"), "google_ads")
    assert "emoji" not in rules(meta(headline="Plan faster 🚀"))


def test_item_counts() -> None:
    assert "count" in rules(Variant(GOOGLE_HEADS[:2], GOOGLE_DESCS, None, "t"), "google_ads")
    assert "count" in rules(Variant(("One", "Two"), ("Body",), None, "t"))


def test_calls_to_action_must_be_platform_buttons() -> None:
    assert "cta" in rules(meta(cta="REQUEST_DEMO"))  # a LinkedIn button, not a Meta one
    assert "cta" not in rules(meta(cta="shop now"))  # cleaned to SHOP_NOW
    assert "cta" not in rules(meta(cta=None))


@pytest.mark.parametrize("text", ["Save {discount} today", "Get [PRODUCT] now", "Hi <first_name>!", "TODO: offer",
                                  "Call XXX now", "Lorem ipsum dolor"])
def test_unfilled_placeholders_are_rejected(text: str) -> None:
    assert "placeholder" in rules(meta(body=text))


def test_banned_words_match_whole_words_and_phrases_only() -> None:
    assert "banned_word" in rules(meta(body="Cheap plans for teams"))
    assert "banned_word" in rules(meta(body="The best   ever planner"))
    assert "banned_word" not in rules(meta(body="Cheaper than spreadsheets"))  # not the word "cheap"


def test_banned_claims_from_the_default_list() -> None:
    assert "banned_claim" in rules(meta(body="Guaranteed results in a week"))
    assert "banned_claim" in rules(meta(body="The #1 planner for teams"))


def test_required_spellings_of_brand_and_product_names() -> None:
    assert "spelling" in rules(meta(body="Try planwise today"))
    assert "spelling" in rules(meta(body="Try PLANWISE today"))
    assert "spelling" in rules(meta(body="Find us on Linked In"))
    assert "spelling" not in rules(meta(body="Try Planwise, on LinkedIn too"))
    assert "spelling" not in rules(meta(body="Plan wisely"))  # another word, not a misspelling


def test_near_duplicates_of_existing_ads_and_siblings() -> None:
    existing = [AdText(("Plan Projects in One Place!",), ("Used by 4,000 teams — try Planwise free ✨",))]
    assert "duplicate" in rules(meta(), existing=existing)
    sibling = meta()
    assert "duplicate" in rules(meta(), siblings=[sibling])
    other = meta(headline="Ship every project on time", body="See capacity at a glance. Book a 20-minute demo.")
    assert "duplicate" not in rules(other, existing=existing, siblings=[sibling])


def test_unknown_platform_names_the_known_ones() -> None:
    with pytest.raises(NoTextLimits, match="google_ads, linkedin, meta"):
        limits_for("tiktok")


def test_hard_limits_only_when_recommended_ones_are_not_enforced() -> None:
    assert limits_for("meta", enforce_recommended=False).headline.max_chars == 255
    assert limits_for("google_ads", enforce_recommended=False).headline.max_chars == 30
