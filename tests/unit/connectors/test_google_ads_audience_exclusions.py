"""Google Ads audience exclusions through the real SDK against the gRPC fake: a negative user-list
campaign criterion created, read back, refused where Google refuses it, and removed; schedules on the
same service keep working beside it."""

from __future__ import annotations

from decimal import Decimal

from connectors.records import Mutation
from tests.fakes.google_pmax import PmaxCampaign
from tests.unit.connectors.test_google_ads import Rig, rig  # noqa: F401  (the fixture)

CUSTOMER, USER_LIST = "1234567890", "4242"


def _exclusion(kind: str, entity_id: str, key: str, audience_id: str = USER_LIST) -> Mutation:
    return Mutation(kind, "acme-us", entity_id, {"audience_id": audience_id}, key)  # type: ignore[arg-type]


def test_an_exclusion_is_created_read_back_refused_twice_and_removed(rig: Rig) -> None:  # noqa: F811
    rig.fake.user_list_exclusions.user_lists[CUSTOMER] = {USER_LIST}
    connector = rig.connector()
    campaign = next(e for e in connector.entities("acme-us") if e.level == "campaign")
    assert campaign.attributes["excluded_audience_ids"] == []
    assert all("excluded_audience_ids" not in e.attributes for e in connector.entities("acme-us")
               if e.level == "ad_set")  # the exclusion lives on the campaign

    [created] = connector.apply("acme-us", [_exclusion("exclude_audience", campaign.entity_id, "k1")])
    assert created.ok, created.error
    [request] = [r for kind, r in rig.fake.requests if kind == "mutate:CampaignCriterionService"]
    criterion = request.operations[0].create
    assert criterion.negative and criterion.user_list.user_list == f"customers/{CUSTOMER}/userLists/{USER_LIST}"
    assert criterion.campaign == f"customers/{CUSTOMER}/campaigns/{campaign.entity_id}"
    live = {e.entity_id: e for e in connector.entities("acme-us")}[campaign.entity_id]
    assert live.attributes["excluded_audience_ids"] == [USER_LIST]

    [twice] = connector.apply("acme-us", [_exclusion("exclude_audience", campaign.entity_id, "k2")])
    assert not twice.ok and "already excludes" in str(twice.error)  # refused before sending
    [unknown] = connector.apply("acme-us", [_exclusion("exclude_audience", campaign.entity_id, "k3", "999")])
    assert not unknown.ok and "not found" in str(unknown.error)  # the customer holds no such list

    [removed] = connector.apply("acme-us", [_exclusion("remove_audience_exclusion", campaign.entity_id, "k4")])
    assert removed.ok, removed.error
    live = {e.entity_id: e for e in connector.entities("acme-us")}[campaign.entity_id]
    assert live.attributes["excluded_audience_ids"] == []


def test_performance_max_and_ad_groups_take_no_user_list_exclusion(rig: Rig) -> None:  # noqa: F811
    rig.fake.user_list_exclusions.user_lists[CUSTOMER] = {USER_LIST}
    rig.fake.pmax.add(CUSTOMER, PmaxCampaign(20_000_000_001, "PMax", Decimal("50")))
    connector = rig.connector()
    entities = connector.entities("acme-us")
    pmax = next(e for e in entities if e.level == "campaign" and e.attributes["channel"] == "PERFORMANCE_MAX")
    ad_group = next(e for e in entities if e.level == "ad_set" and e.attributes.get("platform_level") == "ad_group")
    assert "excluded_audience_ids" not in pmax.attributes
    results = connector.apply("acme-us", [_exclusion("exclude_audience", pmax.entity_id, "p1"),
                                          _exclusion("exclude_audience", ad_group.entity_id, "p2")])
    assert not results[0].ok and "PERFORMANCE_MAX campaign takes no user-list exclusion" in str(results[0].error)
    assert not results[1].ok and "on Google campaigns" in str(results[1].error)
    assert not any(kind == "mutate:CampaignCriterionService" for kind, _ in rig.fake.requests)  # nothing sent
