"""Google Ads campaign criteria: negative locations, ad schedules and negative user lists are read with
one `campaign_criterion` query per pull (connectors/google_ads/campaign_criteria.py), split by type;
targeted locations and targeted user lists, which the query also returns, are not read as exclusions."""

from __future__ import annotations

from typing import Any

from google.ads.googleads.v26.services.types.google_ads_service import GoogleAdsRow

from connectors.google_ads import campaign_criteria
from connectors.records import Mutation
from tests.fakes.gaql import check_query, conditions, matches
from tests.unit.connectors.test_google_ads import Rig, rig  # noqa: F401  (the fixture)

CUSTOMER = "1234567890"
# what one `entities` pull asks: shared sets, shared criteria, campaign shared sets, campaigns, ad groups,
# ads, keywords and demographics (2 x ad_group_criterion), bid modifiers, campaign criteria (one query for
# locations, schedules and user lists; three before), labels, campaign labels, ad group labels
PULL_REQUESTS = 13


def _row(kind: str, negative: bool, campaign: int = 7, criterion: int = 1) -> Any:
    row: Any = GoogleAdsRow()  # proto-plus takes enum names as strings
    row.campaign.id = campaign
    row.campaign_criterion.type_ = kind
    row.campaign_criterion.negative = negative
    row.campaign_criterion.criterion_id = criterion
    return row


def test_rows_are_split_by_type_and_targeted_locations_and_user_lists_left_out() -> None:
    rows = [_row("LOCATION", True, criterion=1), _row("LOCATION", False, criterion=2),
            _row("AD_SCHEDULE", False, criterion=3), _row("USER_LIST", True, criterion=4),
            _row("USER_LIST", False, criterion=5), _row("KEYWORD", True, criterion=6)]
    found = campaign_criteria.split(rows)
    ids = {name: [r.campaign_criterion.criterion_id for r in bucket]
           for name, bucket in (("locations", found.locations), ("schedules", found.schedules),
                                ("user_lists", found.user_lists))}
    assert ids == {"locations": [1], "schedules": [3], "user_lists": [4]}


def test_the_query_is_valid_gaql_and_selects_the_three_types_without_removed_ones() -> None:
    assert check_query(campaign_criteria.QUERY) is None
    where = conditions(campaign_criteria.QUERY)
    [types] = [c for c in where if c.field == "campaign_criterion.type"]
    assert (types.operator, set(types.values)) == ("IN", {"LOCATION", "AD_SCHEDULE", "USER_LIST"})
    removed = _row("LOCATION", True)
    removed.campaign_criterion.status = "REMOVED"
    enabled = _row("AD_SCHEDULE", False)
    enabled.campaign_criterion.status = "ENABLED"
    of_removed_campaign = _row("USER_LIST", True)
    of_removed_campaign.campaign.status = "REMOVED"
    keyword = _row("KEYWORD", True)
    assert [matches(r, where) for r in (removed, enabled, of_removed_campaign, keyword)] == [False, True, False, False]
    assert not any(c.field == "campaign_criterion.negative" for c in where)  # ad schedules are never negative


def test_one_campaign_criterion_request_per_pull_reads_all_three(rig: Rig) -> None:  # noqa: F811
    rig.fake.user_list_exclusions.user_lists[CUSTOMER] = {"4242", "77"}
    connector = rig.connector()
    entities = connector.entities("acme-us")
    campaign = next(e for e in entities if e.level == "campaign")
    ad_group = next(e for e in entities if e.level == "ad_set" and e.parent_id == campaign.entity_id)
    sim_campaign, sim_ad_group = rig.fake.ids.sim(campaign.entity_id), rig.fake.ids.sim(ad_group.entity_id)
    # the world: an excluded region, an excluded user list, an ad schedule; and what a campaign targets
    # (a region and a user list), which the query returns too and which are no exclusions
    [cut] = rig.simulator.apply("g-us", [Mutation("exclude_location", "g-us", str(sim_ad_group),
                                                  {"dimension": "region", "segment": "texas", "excluded": True}, "s1")])
    assert cut.ok, cut.error
    rig.fake.targeted_locations[str(sim_campaign)] = {"california"}
    rig.fake.user_list_exclusions.excluded[(CUSTOMER, str(sim_campaign))] = {"4242"}
    rig.fake.user_list_exclusions.targeted[(CUSTOMER, str(sim_campaign))] = {"77"}
    block = {"day": "sat", "start_hour": 18, "end_hour": 24, "bid_modifier": 1.2}
    [scheduled] = connector.apply("acme-us", [Mutation("set_ad_schedule", "acme-us", campaign.entity_id,
                                                       {"ad_schedule": [block]}, "k1")])
    assert scheduled.ok, scheduled.error

    connector.accounts()
    rig.fake.traffic.reset()
    before = len(rig.fake.requests)
    live = {e.entity_id: e for e in connector.entities("acme-us")}
    assert rig.fake.traffic.counts["search:campaign_criterion"] == 1
    # the geo target constants named: the excluded region's only (one lookup, outside the pull's count)
    assert rig.fake.traffic.counts.pop("search:geo_target_constant") == 1
    assert sum(rig.fake.traffic.counts.values()) == PULL_REQUESTS
    [query] = [q for kind, q in rig.fake.requests[before:] if kind == "search:campaign_criterion"]
    assert query == campaign_criteria.QUERY
    [names] = [q for kind, q in rig.fake.requests[before:] if kind == "search:geo_target_constant"]
    assert f"geoTargetConstants/{rig.fake.ids.numeric('geo:california')}" not in names

    assert live[ad_group.entity_id].attributes["excluded_segments"]["region"] == ["texas"]
    assert live[campaign.entity_id].attributes["excluded_audience_ids"] == ["4242"]
    assert live[campaign.entity_id].attributes["ad_schedule"] == [block]
