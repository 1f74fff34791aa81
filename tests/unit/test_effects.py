"""Effects of additive changes: what a proposal still adds once the applied and queued part is gone."""

from __future__ import annotations

from typing import Any

from agent.decisions.effects import applied_outside, effects_of, live_effects, without_effects
from agent.execution.settlement import applied_on_platform
from connectors.records import Entity
from policies.base import Proposal


def negatives(*keywords: tuple[str, str]) -> Proposal:
    items = [{"text": text, "match_type": match} for text, match in keywords]
    return Proposal(kind="add_negative_keywords", policy="negative_keywords", account_id="a", entity_id="c1",
                    entity_level="campaign", entity_name="C1", rationale="3 negatives.",
                    change={"from": {"list_name": "l", "keywords": []}, "to": {"list_name": "l", "keywords": items}},
                    evidence={"negatives": [dict(i, clicks=3) for i in items]})


def ad_set(**attributes: Any) -> Entity:
    return Entity("meta", "a", "ad_set", "s1", "c1", "S1", "ACTIVE", "EUR", attributes=attributes)


def test_keywords_are_compared_by_words_and_match_type() -> None:
    typed = effects_of("add_negative_keywords", negatives((" Free  Trial ", "phrase")).change)
    assert typed == effects_of("add_negative_keywords", negatives(("free trial", "PHRASE")).change)
    assert typed != effects_of("add_negative_keywords", negatives(("free trial", "EXACT")).change)


def test_a_list_loses_the_keywords_already_taken_and_keeps_its_evidence_in_step() -> None:
    proposal = negatives(("free", "PHRASE"), ("cheap", "EXACT"), ("jobs", "PHRASE"))
    taken = effects_of("add_negative_keywords", negatives(("FREE", "phrase"), ("jobs", "EXACT")).change)
    trimmed = without_effects(proposal, taken)
    assert trimmed is not None
    assert trimmed.change["to"]["keywords"] == [{"text": "cheap", "match_type": "EXACT"},
                                                {"text": "jobs", "match_type": "PHRASE"}]
    assert [n["text"] for n in trimmed.evidence["negatives"]] == ["cheap", "jobs"]
    assert trimmed.evidence["left_out_already_applied_or_queued"] == [{"text": "free", "match_type": "PHRASE"}]


def test_nothing_left_to_add_means_no_proposal() -> None:
    proposal = negatives(("free", "PHRASE"))
    assert without_effects(proposal, effects_of(proposal.kind, proposal.change)) is None
    exclusion = Proposal(kind="exclude_audience", policy="audience_overlap", account_id="a", entity_id="s1",
                         entity_level="ad_set", entity_name="S1", rationale="r",
                         change={"from": {"excluded_audience_ids": ["x"]}, "to": {"excluded_audience_id": "y"}})
    # the same audience excluded by an action whose `from` was different is the same effect
    earlier = {"from": {"excluded_audience_ids": []}, "to": {"excluded_audience_id": "y"}}
    assert without_effects(exclusion, effects_of("exclude_audience", earlier)) is None
    assert without_effects(exclusion, effects_of("exclude_audience", {"to": {"excluded_audience_id": "z"}})) \
        is exclusion


def test_new_ad_copy_is_its_headlines_and_descriptions() -> None:
    ad = Entity("meta", "a", "ad", "ad9", "s1", "Old", "PAUSED", "EUR",
                attributes={"headline": "Save 20%", "description": "Today only."})
    proposed = {"to": {"headline": "SAVE 20% ", "description": "today only.", "status": "PAUSED", "name": "new"}}
    assert effects_of("new_ad", proposed) == live_effects("new_ad", ad_set(), [ad])
    assert live_effects("new_ad", ad_set(), [ad]) != effects_of("new_ad", {"to": {"headline": "Save 30%",
                                                                                 "description": "Today only."}})


def test_the_executor_skips_only_what_the_live_entity_already_has() -> None:
    action = {"kind": "exclude_audience", "entity_id": "s1", "change": {"to": {"excluded_audience_id": "y"}}}
    assert applied_outside(action, ad_set(excluded_audience_ids=["x", "y"]))
    assert applied_outside(action, ad_set(excluded_audience_ids=["x"])) is None
    assert applied_outside(action, ad_set()) is None  # the connector cannot tell: send it
    listed = {"kind": "add_negative_keywords", "entity_id": "c1", "change": negatives(("free", "PHRASE")).change}
    assert applied_outside(listed, ad_set(negative_keywords=[{"text": "Free", "match_type": "PHRASE"}]))


def _label_action(kind: str, label: str = "review") -> dict[str, Any]:
    on = kind == "add_label"
    return {"kind": kind, "entity_id": "s1", "change": {"from": {"label": label, "labeled": not on},
                                                       "to": {"label": label, "labeled": on}}}


def test_a_label_already_there_is_not_added_again_and_one_gone_is_not_removed() -> None:
    labelled, bare, silent = ad_set(labels=["review"]), ad_set(labels=[]), ad_set()
    assert "already applied outside" in str(applied_outside(_label_action("add_label"), labelled))
    assert applied_outside(_label_action("add_label"), bare) is None
    assert "no longer has the label 'review'" in str(applied_outside(_label_action("remove_label"), bare))
    assert applied_outside(_label_action("remove_label"), labelled) is None
    assert applied_outside(_label_action("remove_label"), silent) is None  # the platform does not tell: send
    assert live_effects("add_label", silent) is None


def test_settlement_reads_labels_on_the_platform() -> None:
    add, remove = _label_action("add_label"), _label_action("remove_label")
    assert applied_on_platform(add, ad_set(labels=["review"]), None) is True  # type: ignore[arg-type]
    assert applied_on_platform(add, ad_set(labels=[]), None) is False  # type: ignore[arg-type]
    assert applied_on_platform(remove, ad_set(labels=[]), None) is True  # type: ignore[arg-type]
    assert applied_on_platform(remove, ad_set(labels=["review"]), None) is False  # type: ignore[arg-type]
    assert applied_on_platform(remove, ad_set(), None) is None  # type: ignore[arg-type]
