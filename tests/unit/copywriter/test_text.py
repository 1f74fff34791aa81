from agent.copywriter.text import char_count, clean, comparable, emoji_count, graphemes, similarity


def test_combining_marks_count_once_composed_or_not() -> None:
    assert char_count("Caf\u00e9") == 4
    assert char_count("Cafe\u0301") == 4


def test_emoji_sequences_are_one_character() -> None:
    assert char_count("👍🏽") == 1  # skin tone modifier
    assert char_count("👩‍👩‍👧‍👦") == 1  # ZWJ family
    assert char_count("🇩🇪🇫🇷") == 2  # two flags, each two regional indicators
    assert char_count("1️⃣") == 1  # keycap
    assert char_count("❤️") == 1  # variation selector
    assert emoji_count("Run 🏃‍♀️ far 🇩🇪") == 2


def test_google_counts_wide_characters_twice_but_not_emoji() -> None:
    assert char_count("日本語", wide_counts_double=True) == 6
    assert char_count("日本語") == 3
    assert char_count("ab", wide_counts_double=True) == 2


def test_clean_collapses_whitespace_and_drops_invisible_characters() -> None:
    assert clean("  Free\u00a0\u00a0shipping\t\ttoday\n ") == "Free shipping today"
    assert clean("Zero\u200bwidth\ufeff") == "Zerowidth"
    assert clean(" \u3000 ") == ""
    assert graphemes("") == []


def test_comparable_ignores_case_accents_punctuation_and_emoji() -> None:
    assert comparable("Café — 20% OFF!! ✨") == comparable("cafe 20 off")
    assert similarity("Shop Trail Shoes today!", "shop trail shoes TODAY") == 1.0
    assert similarity("today shoes trail shop", "Shop Trail Shoes today") == 1.0  # same words, reordered
    assert similarity("Free 14-day trial", "Book a demo with our team") < 0.5
