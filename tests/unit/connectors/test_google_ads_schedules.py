"""Google Ads ad schedules through the real SDK against the fake gRPC server: campaigns report their
AD_SCHEDULE criteria, `set_ad_schedule` replaces them in one CampaignCriterionService request (removes,
then creates), and a schedule Google would refuse (seven blocks a day) is refused before sending."""

from __future__ import annotations

from typing import Any

from connectors.records import Mutation
from tests.unit.connectors.test_google_ads import Rig, rig  # noqa: F401  (the fixture)

WEEKEND: list[dict[str, Any]] = [*({"day": d, "start_hour": 0, "end_hour": 24, "bid_modifier": 1.0} for d in ("mon", "tue", "wed", "thu",
                                                                                      "fri")),
           {"day": "sat", "start_hour": 0, "end_hour": 24, "bid_modifier": 0.8},
           {"day": "sun", "start_hour": 0, "end_hour": 24, "bid_modifier": 0.8}]


def _schedule(entity_id: str, blocks: list[dict[str, Any]], key: str) -> Mutation:
    return Mutation("set_ad_schedule", "acme-us", entity_id, {"ad_schedule": blocks}, key)


def _requests(setup: Rig) -> list[Any]:
    return [request for kind, request in setup.fake.requests if kind == "mutate:CampaignCriterionService"]


def test_a_schedule_is_written_read_back_and_replaced(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    campaign = next(e for e in connector.entities("acme-us") if e.level == "campaign")
    assert campaign.attributes["ad_schedule"] == []

    [result] = connector.apply("acme-us", [_schedule(campaign.entity_id, WEEKEND, "k1")])
    assert result.ok, result.error
    [request] = _requests(rig)
    assert len(request.operations) == 7 and all("create" in op for op in request.operations)
    saturday = request.operations[5].create
    assert saturday.ad_schedule.day_of_week.name == "SATURDAY" and round(saturday.bid_modifier, 4) == 0.8
    assert saturday.ad_schedule.end_hour == 24 and saturday.ad_schedule.end_minute.name == "ZERO"
    live = {e.entity_id: e for e in connector.entities("acme-us")}[campaign.entity_id]
    assert sorted(live.attributes["ad_schedule"], key=str) == sorted(WEEKEND, key=str)

    evenings = [{"day": "sat", "start_hour": 18, "end_hour": 24, "bid_modifier": 1.2}]
    [replaced] = connector.apply("acme-us", [_schedule(campaign.entity_id, evenings, "k2")])
    assert replaced.ok, replaced.error
    second = _requests(rig)[-1]
    assert [("remove" in op) for op in second.operations] == [True] * 7 + [False]
    live = {e.entity_id: e for e in connector.entities("acme-us")}[campaign.entity_id]
    assert live.attributes["ad_schedule"] == evenings

    [cleared] = connector.apply("acme-us", [_schedule(campaign.entity_id, [], "k3")])  # undo to "no schedule"
    assert cleared.ok and {e.entity_id: e for e in connector.entities("acme-us")}[campaign.entity_id] \
        .attributes["ad_schedule"] == []


def test_a_schedule_google_would_refuse_is_refused_before_sending(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    entities = connector.entities("acme-us")
    campaign = next(e for e in entities if e.level == "campaign")
    ad_group = next(e for e in entities if e.level == "ad_set")
    crowded = [{"day": "mon", "start_hour": h, "end_hour": h + 1, "bid_modifier": 1.0} for h in range(0, 14, 2)]
    results = connector.apply("acme-us", [_schedule(campaign.entity_id, crowded, "k1"),
                                          _schedule(ad_group.entity_id, WEEKEND, "k2")])
    assert "6 ad schedules a day" in str(results[0].error)
    assert "campaign criteria" in str(results[1].error)
    assert _requests(rig) == []


def test_today_so_far_is_read_with_the_days_reports(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    today = rig.simulator.local_today("g-us")
    rows = list(connector.intraday_metrics("acme-us", today))
    assert rows and {r.day for r in rows} == {today} and sum(r.spend for r in rows) > 0
    query = next(q for kind, q in rig.fake.requests if kind == "search:ad_group" and "segments.date" in str(q))
    assert f"BETWEEN '{today.isoformat()}' AND '{today.isoformat()}'" in str(query)
    complete = list(rig.simulator.daily_metrics("g-us", today, today))
    assert complete == []  # the day is not complete yet: only its partial rows exist
