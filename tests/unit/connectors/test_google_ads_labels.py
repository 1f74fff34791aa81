"""Google Ads labels through the real SDK against the fake gRPC server: entities report their labels,
`add_label` creates the label once and attaches it (campaign or ad group), `remove_label` detaches it,
and a label on a keyword is refused before any request."""

from __future__ import annotations

from connectors.records import Mutation
from tests.unit.connectors.test_google_ads import Rig, rig  # noqa: F401  (the fixture)


def _label(kind: str, entity_id: str, label: str, key: str) -> Mutation:
    return Mutation(kind, "acme-us", entity_id, {"label": label, "labeled": kind == "add_label"}, key)  # type: ignore[arg-type]


def test_labels_are_added_once_read_back_and_removed(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    entities = connector.entities("acme-us")
    campaign = next(e for e in entities if e.level == "campaign")
    ad_groups = [e for e in entities if e.level == "ad_set"][:2]
    assert campaign.attributes["labels"] == [] and ad_groups[0].attributes["labels"] == []

    results = connector.apply("acme-us", [_label("add_label", ad_groups[0].entity_id, "rule: review", "k1"),
                                          _label("add_label", ad_groups[1].entity_id, "rule: review", "k2"),
                                          _label("add_label", campaign.entity_id, "rule: review", "k3")])
    assert [r.ok for r in results] == [True, True, True], [r.error for r in results]
    creates = [request for kind, request in rig.fake.requests if kind == "mutate:LabelService"]
    assert len(creates) == 1 and len(creates[0].operations) == 1  # one label, however many entities get it
    links = [request for kind, request in rig.fake.requests if kind == "mutate:AdGroupLabelService"]
    assert len(links[0].operations) == 2 and links[0].partial_failure
    after = {e.entity_id: e for e in connector.entities("acme-us")}
    assert after[ad_groups[0].entity_id].attributes["labels"] == ["rule: review"]
    assert after[campaign.entity_id].attributes["labels"] == ["rule: review"]

    again = connector.apply("acme-us", [_label("add_label", ad_groups[0].entity_id, "rule: review", "k4")])
    assert not again[0].ok and "RESOURCE_ALREADY_EXISTS" in str(again[0].error)  # attached already: refused, not doubled

    removed = connector.apply("acme-us", [_label("remove_label", ad_groups[0].entity_id, "rule: review", "k5")])
    assert removed[0].ok
    removes = [request for kind, request in rig.fake.requests if kind == "mutate:AdGroupLabelService"][-1]
    assert removes.operations[0].remove.startswith("customers/1234567890/adGroupLabels/")
    assert {e.entity_id: e for e in connector.entities("acme-us")}[ad_groups[0].entity_id].attributes["labels"] == []
    nothing = connector.apply("acme-us", [_label("remove_label", ad_groups[0].entity_id, "rule: review", "k6")])
    assert nothing[0].ok  # nothing to remove: already as asked, no request sent
    assert len([k for k, _ in rig.fake.requests if k == "mutate:AdGroupLabelService"]) == 3


def test_a_label_on_a_keyword_is_refused_before_sending(rig: Rig) -> None:  # noqa: F811
    connector = rig.connector()
    keyword = next(e for e in connector.entities("acme-us") if e.level == "keyword")
    [result] = connector.apply("acme-us", [_label("add_label", keyword.entity_id, "x", "k1")])
    assert not result.ok and "labels are set on campaigns and ad groups" in str(result.error)
    assert not [k for k, _ in rig.fake.requests if k.startswith("mutate:")]
