"""Meta ad labels through the real facebook-business SDK against the fake Graph API: campaigns and ad
sets report their `adlabels`, `add_label` POSTs to the object's adlabels edge in a batch, `remove_label`
DELETEs an ad set's label by id, and a campaign's label removal is refused in words before any call."""

from __future__ import annotations

import json

from connectors.records import Mutation
from tests.unit.connectors.test_meta import Rig, rig  # noqa: F401  (the fixture)


def _label(kind: str, entity_id: str, label: str, key: str) -> Mutation:
    return Mutation(kind, "shop-de", entity_id, {"label": label, "labeled": kind == "add_label"}, key)  # type: ignore[arg-type]


def _label_calls(setup: Rig) -> list[dict[str, str]]:
    return [call for kind, path, params in setup.fake.log if kind == "post:batch"
            for call in json.loads(params["batch"]) if call["relative_url"].split("?")[0].endswith("/adlabels")]


def test_ad_set_labels_are_added_read_back_and_removed(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    entities = connector.entities("shop-de")
    ad_set = next(e for e in entities if e.level == "ad_set")
    campaign = next(e for e in entities if e.level == "campaign")
    assert ad_set.attributes["labels"] == [] and campaign.attributes["labels"] == []

    results = connector.apply("shop-de", [_label("add_label", ad_set.entity_id, "rule: review", "k1"),
                                          _label("add_label", campaign.entity_id, "rule: review", "k2")])
    assert [r.ok for r in results] == [True, True], [r.error for r in results]
    calls = _label_calls(rig)
    assert [c["method"] for c in calls] == ["POST", "POST"]
    assert "rule%3A%20review" in calls[0]["body"] or "rule: review" in calls[0]["body"]
    after = {e.entity_id: e for e in connector.entities("shop-de")}
    assert after[ad_set.entity_id].attributes["labels"] == ["rule: review"]
    assert after[campaign.entity_id].attributes["labels"] == ["rule: review"]

    [removed] = connector.apply("shop-de", [_label("remove_label", ad_set.entity_id, "rule: review", "k3")])
    assert removed.ok and _label_calls(rig)[-1]["method"] == "DELETE"
    assert {e.entity_id: e for e in connector.entities("shop-de")}[ad_set.entity_id].attributes["labels"] == []
    [again] = connector.apply("shop-de", [_label("remove_label", ad_set.entity_id, "rule: review", "k4")])
    assert again.ok and again.already_applied and len(_label_calls(rig)) == 3  # nothing to remove: no call


def test_a_campaign_label_cannot_be_removed_through_the_api(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    campaign = next(e for e in connector.entities("shop-de") if e.level == "campaign")
    connector.apply("shop-de", [_label("add_label", campaign.entity_id, "x", "k1")])
    connector.entities("shop-de")
    [result] = connector.apply("shop-de", [_label("remove_label", campaign.entity_id, "x", "k2")])
    assert not result.ok and "remove it in Ads Manager" in str(result.error)
    assert len(_label_calls(rig)) == 1
