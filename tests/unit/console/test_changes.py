"""Changes in words: names instead of ids, only what changes, money in the currency's minor units."""

from __future__ import annotations

from agent.console.changes import change_lines, headline


def test_negative_keywords_read_as_words_not_program_text() -> None:
    change = {"from": {"list_name": "agent-negatives", "keywords": []},
              "to": {"list_name": "agent-negatives", "keywords": [{"text": "free", "match_type": "PHRASE"},
                                                                   {"text": "jobs", "match_type": "EXACT"}]}}
    lines = change_lines("add_negative_keywords", change, "USD")
    assert lines == ["add negative keywords “free” (phrase match), “jobs” (exact match) to the list "
                     "“agent-negatives”"]
    assert "[" not in lines[0] and "{" not in lines[0]


def test_audiences_are_named() -> None:
    change = {"from": {"excluded_audience_ids": ["111"]}, "to": {"excluded_audience_id": "222"}}
    lines = change_lines("exclude_audience", change, "EUR", {"111": "Past buyers", "222": "Newsletter"})
    assert lines == ["exclude the audience Newsletter (already excluded: Past buyers)"]


def test_only_fields_that_change_are_shown_with_minor_units() -> None:
    change = {"from": {"daily_budget": "650.00", "status": "ACTIVE"},
              "to": {"daily_budget": "640.98", "status": "ACTIVE"}}
    assert change_lines("set_budget", change, "EUR") == ["daily budget: 650.00 EUR → 640.98 EUR"]
    yen = {"from": {"daily_budget": "65000"}, "to": {"daily_budget": "70000.4"}}
    assert change_lines("set_budget", yen, "JPY") == ["daily budget: 65,000 JPY → 70,000 JPY"]


def test_headline_says_what_happens_to_which_entity() -> None:
    action = {"kind": "set_budget", "entity_level": "ad_set", "entity_name": "Serum | Lookalike",
              "change": {"from": {"daily_budget": "39.00"}, "to": {"daily_budget": "46.60"}}}
    assert headline(action, "EUR") == "Raise the daily budget of the ad set “Serum | Lookalike” from 39.00 EUR to 46.60 EUR"
    pause = {"kind": "pause", "entity_level": "campaign", "entity_name": "Brand", "change": {}}
    assert headline(pause, "EUR") == "Pause the campaign “Brand”"


def test_labels_and_ad_schedules_read_as_sentences() -> None:
    label = {"from": {"label": "review", "labeled": False}, "to": {"label": "review", "labeled": True}}
    assert change_lines("add_label", label, "USD") == ["add the label “review”"]
    weekend = {"from": {"ad_schedule": []}, "to": {"ad_schedule": [
        {"day": "fri", "start_hour": 0, "end_hour": 24, "bid_modifier": 1.0},
        {"day": "sat", "start_hour": 0, "end_hour": 24, "bid_modifier": 0.8}]}}
    assert change_lines("set_ad_schedule", weekend, "USD") == ["ad schedule: none (all hours) → sat x0.8; fri x1"]


def test_a_rotation_change_reads_in_the_words_of_googles_interface() -> None:
    even = {"from": {"ad_rotation": "OPTIMIZE"}, "to": {"ad_rotation": "ROTATE_FOREVER"}}
    assert change_lines("set_ad_rotation", even, "USD") == [
        "ad rotation: optimize (best-performing ads served more) → rotate evenly (do not optimize)"]
    assert headline({"kind": "set_ad_rotation", "entity_level": "ad_set", "entity_name": "Brand", "change": even},
                    "USD").startswith("Change the ad rotation of")


def test_segment_levers_read_as_who_stops_seeing_the_ads() -> None:
    age = {"from": {"dimension": "age", "segment": "18-24", "excluded": False, "age_min": 18, "age_max": 65},
           "to": {"dimension": "age", "segment": "18-24", "excluded": True, "age_min": 25, "age_max": 65}}
    assert change_lines("narrow_age_range", age, "EUR") == ["stop delivery to age 18-24", "age range: 18-65 → 25-65"]
    seniority = {"from": {"dimension": "seniority", "segment": "entry", "excluded": True},
                 "to": {"dimension": "seniority", "segment": "entry", "excluded": False}}
    assert change_lines("exclude_seniority", seniority, "EUR") == ["deliver to seniority entry again"]
    assert headline({"kind": "exclude_gender", "entity_level": "ad_set", "entity_name": "Brand", "change": {}},
                    "EUR").startswith(
        "Exclude a gender from")
    texas = {"from": {"dimension": "region", "segment": "texas", "excluded": False},
             "to": {"dimension": "region", "segment": "texas", "excluded": True}}
    assert change_lines("exclude_location", texas, "USD") == [
        "stop delivery to region texas", "for every ad group of the campaign (a campaign location criterion)"]
    assert headline({"kind": "exclude_location", "entity_level": "ad_set", "entity_name": "Brand", "change": {}},
                    "USD").startswith("Exclude a location from the campaign of")
    sales = {"from": {"dimension": "job_function", "segment": "sales", "excluded": False},
             "to": {"dimension": "job_function", "segment": "sales", "excluded": True}}
    assert change_lines("exclude_job_function", sales, "GBP") == ["stop delivery to job function sales"]
    assert headline({"kind": "exclude_job_function", "entity_level": "ad_set", "entity_name": "B2B", "change": {}},
                    "GBP").startswith("Exclude a job function from")
