"""Which ad a copy draft created: found by its copy, its exactly-once tag, or the platform's answer;
never an ad of another ad set."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agent.experiments.copy_tests import find_challenger
from connectors.new_ad_copy import ad_tag
from tests.unit.policies.builders import entity, snapshot

KEY = "0123456789abcdef0123456789abcdef"
COPY = {"headline": "Plan 2027 with real benchmarks", "description": "400 teams, one report."}


def draft(result: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"entity_id": "s1", "idempotency_key": KEY, "change": {"from": {}, "to": {**COPY, "status": "PAUSED"}},
            "result": result or {}}


def test_the_new_ad_is_found_by_its_copy_and_not_in_another_ad_set() -> None:
    ads = [entity("a1", "ad", parent="s1", headline="Old copy", description="Old text."),
           entity("a2", "ad", parent="s1", status="PAUSED", headline="plan 2027  with real benchmarks",
                  description="400 teams, one report."),
           entity("b1", "ad", parent="s2", status="PAUSED", headline=COPY["headline"],
                  description=COPY["description"])]
    found = find_challenger(snapshot([entity("s1"), entity("s2"), *ads]), draft())
    assert found is not None and found.entity_id == "a2"  # case and spacing aside, as the gate's dedup


def test_without_ad_text_the_tag_or_the_platform_reference_names_it() -> None:
    tagged = entity("n7", "ad", parent="s1", status="PAUSED")
    tagged = replace(tagged, name=f"offline copy {ad_tag(KEY)}")
    plain = [entity("a1", "ad", parent="s1"), entity("a17", "ad", parent="s1", status="PAUSED")]
    assert find_challenger(snapshot([entity("s1"), tagged, *plain]), draft()) == tagged
    by_reference = find_challenger(snapshot([entity("s1"), *plain]),
                                   draft({"platform_ref": "urn:li:sponsoredCreative:a17"}))
    assert by_reference is not None and by_reference.entity_id == "a17"
    # a reference ending in the same digits is not the same ad
    assert find_challenger(snapshot([entity("s1"), *plain]), draft({"platform_ref": "urn:li:x:ba17"})) is None
