"""Google Ads ad rotation through the real SDK against the fake gRPC server: ad groups report their
rotation mode, `set_ad_rotation` is one AdGroupService update (mask `ad_rotation_mode`) that reads
back, and a mode or level Google has no rotation for is refused for that mutation alone."""

from __future__ import annotations

from typing import Any

from google.ads.googleads.v26.services.types.google_ads_service import GoogleAdsRow
from google.protobuf import field_mask_pb2

from connectors.google_ads.reports import AD_GROUPS, ad_group_entity
from connectors.google_ads.transport import GoogleAdsTransport
from connectors.records import Mutation
from tests.fakes.gaql import check_query
from tests.unit.connectors.test_google_ads import DEVELOPER_TOKEN, Rig, rig  # noqa: F401  (the fixture)


def _rotation(entity_id: str, mode: object, key: str) -> Mutation:
    return Mutation("set_ad_rotation", "acme-us", entity_id, {"ad_rotation": mode}, key)


def _requests(setup: Rig) -> list[Any]:
    return [request for kind, request in setup.fake.requests if kind == "mutate:AdGroupService"]


def _rotations(setup: Rig) -> dict[str, str]:
    return {e.entity_id: e.attributes["ad_rotation"] for e in setup.connector().entities("acme-us")
            if e.level == "ad_set"}


def test_the_ad_group_query_is_one_google_accepts() -> None:
    assert "ad_group.ad_rotation_mode" in AD_GROUPS and check_query(AD_GROUPS) is None


def test_an_unset_mode_is_left_out_rather_than_guessed() -> None:
    row: Any = GoogleAdsRow()  # proto-plus takes enum names as strings
    row.ad_group.id, row.ad_group.status, row.campaign.id = 5, "ENABLED", 4
    assert "ad_rotation" not in ad_group_entity(row, "acme-us", "USD").attributes
    row.ad_group.ad_rotation_mode = "UNKNOWN"
    assert "ad_rotation" not in ad_group_entity(row, "acme-us", "USD").attributes
    row.ad_group.ad_rotation_mode = "ROTATE_FOREVER"
    assert ad_group_entity(row, "acme-us", "USD").attributes["ad_rotation"] == "ROTATE_FOREVER"


def test_even_rotation_is_written_read_back_and_restored(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    before = _rotations(rig)
    assert len(before) >= 2 and set(before.values()) == {"OPTIMIZE"}
    tested, other = sorted(before)[:2]

    [result] = connector.apply("acme-us", [_rotation(tested, "ROTATE_FOREVER", "k1")])
    assert result.ok, result.error
    assert result.platform_ref == f"customers/1234567890/adGroups/{tested}"
    [request] = _requests(rig)
    [operation] = request.operations
    assert list(operation.update_mask.paths) == ["ad_rotation_mode"]
    assert operation.update.ad_rotation_mode.name == "ROTATE_FOREVER"
    assert operation.update.resource_name == f"customers/1234567890/adGroups/{tested}"
    during = _rotations(rig)
    assert during[tested] == "ROTATE_FOREVER" and during[other] == "OPTIMIZE"
    sim_group = rig.fake.ids.sim(tested)
    assert {e.entity_id: e for e in rig.simulator.entities("g-us")}[str(sim_group)] \
        .attributes["ad_rotation"] == "ROTATE_FOREVER"

    [restored] = connector.apply("acme-us", [_rotation(tested, "OPTIMIZE", "k2")])
    assert restored.ok, restored.error
    assert _rotations(rig) == before
    assert [(m["kind"], m["params"]) for m in rig.simulator.mutation_log()] == [
        ("set_ad_rotation", {"ad_rotation": "ROTATE_FOREVER"}), ("set_ad_rotation", {"ad_rotation": "OPTIMIZE"})]


def test_a_rotation_google_has_not_is_refused_for_that_mutation_alone(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    entities = connector.entities("acme-us")
    campaign = next(e for e in entities if e.level == "campaign")
    ad = next(e for e in entities if e.level == "ad")
    group = next(e for e in entities if e.level == "ad_set")
    results = connector.apply("acme-us", [
        _rotation(group.entity_id, "ROTATE_INDEFINITELY", "k1"),
        _rotation(campaign.entity_id, "ROTATE_FOREVER", "k2"),
        _rotation(ad.entity_id, "ROTATE_FOREVER", "k3"),
        Mutation("set_ad_rotation", "acme-us", group.entity_id, {}, "k4"),
        _rotation(group.entity_id, "ROTATE_FOREVER", "k5"),
    ])
    assert [r.ok for r in results] == [False, False, False, False, True]
    assert "'ROTATE_INDEFINITELY'" in str(results[0].error) and "OPTIMIZE, ROTATE_FOREVER" in str(results[0].error)
    assert "set on ad groups" in str(results[1].error) and "not at the campaign level" in str(results[1].error)
    assert "not at the ad level" in str(results[2].error)
    assert "got None" in str(results[3].error)
    [request] = _requests(rig)  # only the good one was sent
    assert len(request.operations) == 1
    assert _rotations(rig)[group.entity_id] == "ROTATE_FOREVER"


def test_validate_only_sends_the_change_and_changes_nothing(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    group = sorted(_rotations(rig))[0]
    [result] = connector.validate("acme-us", [_rotation(group, "ROTATE_FOREVER", "v1")])
    assert result.ok, result.error
    [request] = _requests(rig)
    assert request.validate_only
    assert _rotations(rig)[group] == "OPTIMIZE" and rig.simulator.mutation_log() == []


def test_the_fake_takes_the_rotation_mask_alone(rig: Rig) -> None:  # noqa: F811
    group = sorted(_rotations(rig))[0]
    transport = GoogleAdsTransport({"developer_token": DEVELOPER_TOKEN},
                                   rig.fake.channel_factory())
    operations = []
    for paths in (["ad_rotation_mode", "name"], ["ad_rotation_mode"]):
        operation = transport.client.get_type("AdGroupOperation")
        operation.update.resource_name = f"customers/1234567890/adGroups/{group}"
        operation.update.ad_rotation_mode = transport.client.enums.AdGroupAdRotationModeEnum.ROTATE_FOREVER
        operation.update.name = "renamed"
        operation.update_mask = field_mask_pb2.FieldMask(paths=paths)
        operations.append(operation)
    response = transport.service("AdGroupService").mutate_ad_groups(request={
        "customer_id": "1234567890", "operations": operations, "partial_failure": True})
    assert "unsupported update mask" in response.partial_failure_error.message
    assert [r.resource_name for r in response.results] == ["", f"customers/1234567890/adGroups/{group}"]
    assert [m["kind"] for m in rig.simulator.mutation_log()] == ["set_ad_rotation"]
