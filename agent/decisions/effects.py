"""Additive proposals deduplicated by their effect: what is still to add, not the whole change.

An exclusion, a negative keyword list or a new ad adds something to an entity. Two proposals of
the same kind on the same entity can differ as a whole (a later one's `from` lists what an earlier
one already added) and still add the same thing twice. So the gate compares effects: the audience
ids to exclude, the negative keywords (text and match type, normalised the way the platforms match
them) and the ad copy (headlines and descriptions). From a new proposal it removes every effect
that is already applied (the live entity shows it, or an action executed it lately), in flight
(approved, executing, or a write whose outcome is not settled yet) or queued (proposed, pending
approval) for the same entity; a proposal with nothing left is not created.

The executor asks the same question of the live entity right before a write: an effect the
platform already shows (added by a person, or by another tool) is not sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping

from agent.storage.action_queries import actions_claiming
from agent.storage.action_states import HISTORY_WINDOW
from connectors.records import Entity
from policies.base import Proposal

ADDITIVE_KINDS: frozenset[str] = frozenset({"exclude_audience", "add_negative_keywords", "new_ad", "add_label"})
LABEL_KINDS: frozenset[str] = frozenset({"add_label", "remove_label"})
# States whose effect is on the platform, may be (a write with no answer yet is `unknown` until it
# is settled, and counts as applied until then), or is on its way there.
QUEUED_OR_IN_FLIGHT_STATES: frozenset[str] = frozenset(
    {"proposed", "pending_approval", "approved", "executing", "unknown"})
Effect = tuple[str, ...]


def _words(text: Any) -> str:
    """Lower case, single spaces: how the platforms compare keywords and how a reader compares copy."""
    return " ".join(str(text).lower().split())


def keyword_effect(keyword: Mapping[str, Any]) -> Effect:
    """A negative keyword's identity: its words and its match type (`Free ` PHRASE == `free` phrase)."""
    return ("keyword", _words(keyword.get("text", "")), str(keyword.get("match_type", "")).strip().upper())


def copy_effect(params: Mapping[str, Any]) -> Effect:
    """An ad's identity as copy: its headlines and descriptions (the name, status and tag aside)."""
    headlines = params.get("headlines") or [params.get("headline", "")]
    descriptions = params.get("descriptions") or [params.get("description", "")]
    return ("copy", *(_words(h) for h in headlines), "|", *(_words(d) for d in descriptions))


def effects_of(kind: str, change: Mapping[str, Any]) -> frozenset[Effect]:
    """What an additive change adds to its entity (empty for any other kind)."""
    target: Mapping[str, Any] = change.get("to") or {}
    if kind == "exclude_audience" and target.get("excluded_audience_id") is not None:
        return frozenset({("audience", str(target["excluded_audience_id"]))})
    if kind == "add_negative_keywords":
        return frozenset(keyword_effect(k) for k in target.get("keywords") or () if isinstance(k, Mapping))
    if kind == "new_ad":
        return frozenset({copy_effect(target)})
    if kind == "add_label" and target.get("label"):
        return frozenset({label_effect(target["label"])})
    return frozenset()


def label_effect(label: Any) -> Effect:
    """A label's identity: its name as the platform shows it (labels are matched exactly)."""
    return ("label", str(label))


def live_effects(kind: str, entity: Entity | None, children: Iterable[Entity] = ()) -> frozenset[Effect] | None:
    """What the live entity already has of this kind; None where the connector does not tell
    (Google ad groups do not list audience exclusions, say)."""
    if entity is None:
        return None
    if kind == "exclude_audience":
        excluded = entity.attributes.get("excluded_audience_ids")
        return None if excluded is None else frozenset(("audience", str(a)) for a in excluded)
    if kind == "add_negative_keywords":
        negatives = entity.attributes.get("negative_keywords")
        return None if negatives is None else frozenset(
            keyword_effect(k) for k in negatives if isinstance(k, Mapping))
    if kind in LABEL_KINDS:
        labels = entity.attributes.get("labels")
        return None if labels is None else frozenset(label_effect(label) for label in labels)
    if kind == "new_ad":
        return frozenset(copy_effect(child.attributes) for child in children
                         if child.level == "ad" and child.parent_id == entity.entity_id
                         and child.status != "REMOVED")
    return None


def _taken_by_actions(connection: Connection, proposal: Proposal, now: datetime) -> frozenset[Effect]:
    """Effects of the entity's actions of this kind that are queued, in flight, or executed lately."""
    taken: set[Effect] = set()
    for action in actions_claiming(connection, proposal.account_id, proposal.entity_id, proposal.kind,
                                   QUEUED_OR_IN_FLIGHT_STATES, executed_since=now - HISTORY_WINDOW):
        taken |= effects_of(action["kind"], action["change"])
    return frozenset(taken)


def without_effects(proposal: Proposal, taken: frozenset[Effect]) -> Proposal | None:
    """The proposal with the effects in `taken` removed; None when nothing is left to add."""
    effects = effects_of(proposal.kind, proposal.change)
    left_out = effects & taken
    if not left_out:
        return proposal
    if left_out == effects or proposal.kind != "add_negative_keywords":
        return None
    target = dict(proposal.change.get("to") or {})
    target["keywords"] = [k for k in target.get("keywords", ()) if keyword_effect(k) not in taken]
    evidence = dict(proposal.evidence)
    if isinstance(evidence.get("negatives"), list):
        evidence["negatives"] = [n for n in evidence["negatives"] if keyword_effect(n) not in taken]
    evidence["left_out_already_applied_or_queued"] = [{"text": k[1], "match_type": k[2]} for k in sorted(left_out)]
    rationale = (f"{proposal.rationale} {len(left_out)} more keyword(s) left out: already on the campaign, "
                 f"queued or in flight.")
    return replace(proposal, change={**proposal.change, "to": target}, evidence=evidence, rationale=rationale)


def still_to_add(connection: Connection, proposal: Proposal, entities: Mapping[str, Entity],
                 now: datetime) -> tuple[Proposal | None, int]:
    """The part of an additive proposal not yet applied, in flight or queued for its entity, and how
    many of its effects were left out; None when nothing is left (then no action is created).
    Other kinds come back unchanged. `entities`: the account's stored entities (the last pull)."""
    if proposal.kind not in ADDITIVE_KINDS:
        return proposal, 0
    live = live_effects(proposal.kind, entities.get(proposal.entity_id), entities.values()) or frozenset()
    taken = live | _taken_by_actions(connection, proposal, now)
    remaining = without_effects(proposal, taken)
    left_out = len(effects_of(proposal.kind, proposal.change) & taken)
    return remaining, left_out


def schedule_of(entity: Entity | None) -> list[dict[str, Any]] | None:
    """The entity's ad schedule as its connector reports it, in one order; None if it reports none."""
    blocks = None if entity is None else entity.attributes.get("ad_schedule")
    if blocks is None:
        return None
    return sorted(({"day": str(b["day"]), "start_hour": int(b["start_hour"]), "end_hour": int(b["end_hour"]),
                    "bid_modifier": round(float(b.get("bid_modifier", 1.0)), 4)} for b in blocks),
                  key=lambda b: (str(b["day"]), int(b["start_hour"])))


def schedule_drift(action: RowMapping | Mapping[str, Any], entity: Entity | None) -> str | None:
    """Why a `set_ad_schedule` must not be sent: the live schedule is already the target, or is neither
    the proposal's `from` nor its `to` (a person changed it since: not overwritten)."""
    live = schedule_of(entity)
    if live is None:
        return None
    change = action["change"]
    wanted = schedule_of(replace(entity, attributes={"ad_schedule": (change.get("to") or {}).get("ad_schedule")
                                                     or []})) if entity is not None else None
    before = schedule_of(replace(entity, attributes={"ad_schedule": (change.get("from") or {}).get("ad_schedule")
                                                     or []})) if entity is not None else None
    if live == wanted:
        return "already applied outside: the platform already has this schedule"
    if live != before:
        return "drift: the live ad schedule differs from the proposal's; not overwritten"
    return None


def applied_outside(action: RowMapping | Mapping[str, Any], entity: Entity | None) -> str | None:
    """Why an additive action must not be sent: the live entity already shows all it adds (a
    person or another tool added it). None if something is left to add, or the connector cannot tell."""
    if action["kind"] == "set_ad_schedule":
        return schedule_drift(action, entity)
    if action["kind"] == "remove_audience_exclusion":
        audience = (action["change"].get("from") or {}).get("excluded_audience_id")
        present = live_effects("exclude_audience", entity)
        if present is not None and ("audience", str(audience)) not in present:
            return f"already applied outside: {action['entity_id']} no longer excludes audience {audience}"
        return None
    if action["kind"] == "remove_label":
        label = (action["change"].get("to") or {}).get("label")
        present = live_effects("remove_label", entity)
        if present is not None and label_effect(label) not in present:
            return f"already applied outside: {action['entity_id']} no longer has the label {label!r}"
        return None
    effects = effects_of(action["kind"], action["change"])
    if not effects:
        return None
    live = live_effects(action["kind"], entity)
    if live is None or not effects <= live:
        return None
    return f"already applied outside: {action['entity_id']} already has what this {action['kind']} adds"
