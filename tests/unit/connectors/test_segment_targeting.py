"""How segment cuts are written in each platform's own terms: Meta placements in the targeting
spec, LinkedIn company sizes under `exclude`, Google device modifiers as multipliers."""

from __future__ import annotations

import pytest
from google.ads.googleads.client import GoogleAdsClient

from connectors.google_ads import bid_modifiers, demographics, locations
from connectors.linkedin.targeting_exclusions import (
    INDUSTRY_FACET,
    SENIORITY_FACET,
    STAFF_COUNT_FACET,
    excluded_company_sizes,
    excluded_segments,
    with_company_size,
    with_exclusion,
)
from connectors.meta.age_range import excluded_ages, with_age_band
from connectors.meta.placements import excluded_placements, with_placement
from connectors.meta.records import ad_set_entity, special_categories
from connectors.meta.regions import excluded_key, excluded_regions, pick, search_params, with_region


def test_excluding_a_placement_writes_out_its_platform_and_keeps_the_rest() -> None:
    automatic = {"geo_locations": {"countries": ["DE"]}}
    assert excluded_placements(automatic) == []  # automatic placements: nothing left out
    cut = with_placement(automatic, "audience_network_classic", True)
    assert cut["audience_network_positions"] == ["rewarded_video"]
    assert cut["geo_locations"] == {"countries": ["DE"]}
    assert "facebook_positions" not in cut  # other platforms keep all their default positions
    assert excluded_placements(cut) == ["audience_network_classic"]
    assert excluded_placements(with_placement(cut, "audience_network_classic", False)) == []


def test_a_platform_left_without_positions_leaves_publisher_platforms() -> None:
    spec = {"publisher_platforms": ["facebook", "audience_network"], "audience_network_positions": ["classic"]}
    cut = with_placement(spec, "audience_network_classic", True)
    assert cut["publisher_platforms"] == ["facebook"] and "audience_network_positions" not in cut
    assert "audience_network_classic" in excluded_placements(cut)
    back = with_placement(cut, "audience_network_classic", False)  # a position needs its platform
    assert back["publisher_platforms"] == ["facebook", "audience_network"]
    assert back["audience_network_positions"] == ["classic"]
    with pytest.raises(ValueError, match="no placement"):
        with_placement({"publisher_platforms": ["facebook"], "facebook_positions": ["feed"]}, "facebook_feed", True)
    with pytest.raises(ValueError, match="cannot be targeted"):
        with_placement({}, "myspace_top", True)


def test_company_sizes_are_excluded_by_their_staff_count_urn() -> None:
    criteria = {"include": {"and": [{"or": {"urn:li:adTargetingFacet:locations": ["urn:li:geo:101165590"]}}]}}
    cut = with_company_size(criteria, "2-10", True)
    assert cut["exclude"]["or"][STAFF_COUNT_FACET] == ["urn:li:staffCountRange:(2,10)"]
    assert cut["include"] == criteria["include"]
    assert excluded_company_sizes(cut) == ["2-10"]
    assert excluded_company_sizes(with_company_size(cut, "10001+", True)) == ["10001+", "2-10"]
    assert "exclude" not in with_company_size(cut, "2-10", False)  # nothing else was excluded


def _client() -> GoogleAdsClient:
    return GoogleAdsClient(credentials=None, developer_token="x", use_proto_plus=True)


def test_a_device_cut_is_a_zero_multiplier_and_an_undo_removes_or_restores() -> None:
    client = _client()
    create = bid_modifiers.operation(client, "customers/1/adGroups/5", "tablet", -1.0, None)
    assert create.create.bid_modifier == 0.0 and create.create.device.type_.name == "TABLET"
    assert create.create.ad_group == "customers/1/adGroups/5"
    existing = "customers/1/adGroups/5~30002"
    update = bid_modifiers.operation(client, "customers/1/adGroups/5", "tablet", 0.2, existing)
    assert update.update.bid_modifier == pytest.approx(1.2) and list(update.update_mask.paths) == ["bid_modifier"]
    remove = bid_modifiers.operation(client, "customers/1/adGroups/5", "tablet", None, existing)
    assert remove.remove == existing
    with pytest.raises(ValueError, match="outside"):
        bid_modifiers.operation(client, "customers/1/adGroups/5", "tablet", -0.95, None)  # x0.05: refused
    assert bid_modifiers.attributes({"tablet": -1.0, "mobile": 0.2}) == {
        "device_bid_modifiers": {"tablet": -1.0, "mobile": 0.2}, "excluded_segments": {"device": ["tablet"]}}


def test_seniorities_and_industries_are_excluded_by_their_facet_urns() -> None:
    criteria = {"include": {"and": [{"or": {"urn:li:adTargetingFacet:locations": ["urn:li:geo:101165590"]}}]},
                "exclude": {"or": {STAFF_COUNT_FACET: ["urn:li:staffCountRange:(1,1)"]}}}
    cut = with_exclusion(with_exclusion(criteria, "seniority", "entry", True), "industry", "industry-1234", True)
    assert cut["exclude"]["or"][SENIORITY_FACET] == ["urn:li:seniority:3"]
    assert cut["exclude"]["or"][INDUSTRY_FACET] == ["urn:li:industry:1234"]
    assert with_exclusion(cut, "industry", "software-development", True)["exclude"]["or"][INDUSTRY_FACET] == [
        "urn:li:industry:1234", "urn:li:industry:4"]
    assert excluded_segments(cut) == {"company_size": ["1"], "seniority": ["entry"], "industry": ["industry-1234"],
                                      "job_function": []}
    back = with_exclusion(with_exclusion(cut, "seniority", "entry", False), "industry", "industry-1234", False)
    assert back == criteria  # the undo leaves the rest of the targeting exactly as it was
    with pytest.raises(ValueError, match="cannot be targeted"):
        with_exclusion(criteria, "seniority", "intern", True)
    with pytest.raises(ValueError, match="no targeting exclusion"):
        with_exclusion(criteria, "region", "texas", True)


def test_a_job_function_is_excluded_by_its_function_urn_and_read_back_by_name() -> None:
    criteria = {"include": {"and": [{"or": {"urn:li:adTargetingFacet:locations": ["urn:li:geo:101165590"]}}]}}
    cut = with_exclusion(criteria, "job_function", "sales", True)
    assert cut["exclude"]["or"] == {"urn:li:adTargetingFacet:jobFunctions": ["urn:li:function:25"]}
    assert excluded_segments(cut)["job_function"] == ["sales"]
    # a seniority or industry URN of the same number is not a job function
    mixed = {"exclude": {"or": {"urn:li:adTargetingFacet:jobFunctions": ["urn:li:function:8", "urn:li:seniority:8"]}}}
    assert excluded_segments(mixed)["job_function"] == ["engineering"]
    assert with_exclusion(cut, "job_function", "sales", False) == criteria
    with pytest.raises(ValueError, match="cannot be targeted"):
        with_exclusion(criteria, "job_function", "astronaut", True)


def test_a_google_location_cut_is_a_negative_campaign_criterion_and_an_undo_removes_it() -> None:
    client = _client()
    campaign = "customers/1/campaigns/7"
    create = locations.operation(client, campaign, "texas", "geoTargetConstants/21176", True, None)
    assert create is not None and create.create.negative and create.create.campaign == campaign
    assert create.create.location.geo_target_constant == "geoTargetConstants/21176"
    existing = "customers/1/campaignCriteria/7~21176"
    back = locations.operation(client, campaign, "texas", None, False, existing)
    assert back is not None and back.remove == existing
    assert locations.operation(client, campaign, "texas", "geoTargetConstants/21176", True, existing) is None
    with pytest.raises(ValueError, match="no geo target constant"):
        locations.operation(client, campaign, "texas", None, True, None)
    # read back: the criteria by campaign, named by the geo target constants' names
    criteria = {"7": {"geoTargetConstants/21176": existing, "geoTargetConstants/9": "customers/1/campaignCriteria/7~9"}}
    regions, resources, constants = locations.by_segment(criteria, {"geoTargetConstants/21176": "Texas"})
    assert regions == {"7": ["texas"]} and resources == {("7", "texas"): existing}  # an unnamed one is left out
    assert constants == {"texas": "geoTargetConstants/21176"}
    assert locations.constants_by_region({"geoTargetConstants/1": "New York", "geoTargetConstants/2": "Texas"}) == {
        "new-york": {"geoTargetConstants/1"}, "texas": {"geoTargetConstants/2"}}


def test_a_meta_age_band_is_cut_only_at_an_end_of_the_range() -> None:
    spec = {"geo_locations": {"countries": ["DE"]}}  # no age set: Meta's 18-65
    assert excluded_ages(spec) == []
    cut = with_age_band(spec, "18-24", True)
    assert (cut["age_min"], cut["age_max"]) == (25, 65) and cut["geo_locations"] == spec["geo_locations"]
    assert excluded_ages(with_age_band(cut, "65+", True)) == ["18-24", "65+"]
    assert with_age_band(cut, "65+", True)["age_max"] == 64
    with pytest.raises(ValueError, match="only at its ends"):
        with_age_band(cut, "45-54", True)  # inside the range: Meta has no age exclusion
    back = with_age_band(cut, "18-24", False, bounds=(21, 65))  # an undo restores the range that was there
    assert (back["age_min"], back["age_max"]) == (21, 65) and excluded_ages(back) == []
    with pytest.raises(ValueError, match="does not include"):
        with_age_band(cut, "18-24", False, bounds=(25, 65))
    narrow = {"age_min": 25, "age_max": 34}
    with pytest.raises(ValueError, match="no age"):
        with_age_band(narrow, "25-34", True)


def test_meta_ad_sets_show_their_age_cut_special_category_and_advantage_audience() -> None:
    raw = {"id": "7", "campaign_id": "3", "name": "a", "status": "ACTIVE",
           "targeting": {"age_min": 25, "age_max": 65, "targeting_automation": {"advantage_audience": 1}}}
    entity = ad_set_entity(raw, "act", "EUR", special={"3": special_categories(
        {"special_ad_categories": ["EMPLOYMENT"]})})
    assert entity.attributes["excluded_segments"]["age"] == ["18-24"]
    assert entity.attributes["advantage_audience"] is True
    assert entity.attributes["special_ad_categories"] == ["EMPLOYMENT"]
    plain = ad_set_entity({**raw, "targeting": {}}, "act", "EUR", special={"3": special_categories(
        {"special_ad_categories": ["NONE"]})})
    assert plain.attributes["advantage_audience"] is False and plain.attributes["special_ad_categories"] == []


def test_a_meta_region_is_found_by_name_and_excluded_by_its_key() -> None:
    results = [{"key": "3847", "name": "California", "type": "region", "country_code": "US"},
               {"key": "1234", "name": "Baja California", "type": "region", "country_code": "MX"}]
    assert pick(results, "california") == ("3847", "California")  # the same slug, not a partial match
    assert pick(results, "texas") is None
    assert search_params("new-york", "US")["q"] == "new york"
    spec = {"geo_locations": {"countries": ["US"]}}
    cut = with_region(spec, "3847", "California", True)
    assert cut["excluded_geo_locations"] == {"regions": [{"key": "3847"}]} and cut["geo_locations"] == spec["geo_locations"]
    read_back = {**cut, "excluded_geo_locations": {"regions": [{"key": "3847", "name": "California"}]}}
    assert excluded_regions(read_back) == ["california"] and excluded_key(read_back, "california") == "3847"
    assert "excluded_geo_locations" not in with_region(read_back, "3847", "California", False)
    with pytest.raises(ValueError, match="both target and exclude"):
        with_region({"geo_locations": {"regions": [{"key": "3847"}]}}, "3847", "California", True)


def test_a_google_age_or_gender_cut_is_a_negative_criterion_and_an_undo_removes_it() -> None:
    client = _client()
    age = demographics.operation(client, "customers/1/adGroups/5", "age", "18-24", True, None)
    assert age is not None and age.create.negative and age.create.ad_group == "customers/1/adGroups/5"
    assert age.create.age_range.type_.name == "AGE_RANGE_18_24"
    gender = demographics.operation(client, "customers/1/adGroups/5", "gender", "male", True, None)
    assert gender is not None and gender.create.negative and gender.create.gender.type_.name == "MALE"
    back = demographics.operation(client, "customers/1/adGroups/5", "age", "18-24", False,
                                  "customers/1/adGroupCriteria/5~503001")
    assert back is not None and back.remove == "customers/1/adGroupCriteria/5~503001"
    assert demographics.operation(client, "customers/1/adGroups/5", "age", "18-24", True,
                                  "customers/1/adGroupCriteria/5~503001") is None  # already excluded
    with pytest.raises(ValueError, match="cannot be excluded"):
        demographics.operation(client, "customers/1/adGroups/5", "gender", "unknown", True, None)
