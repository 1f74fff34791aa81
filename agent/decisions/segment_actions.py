"""Segment actions (a device bid modifier, an age range, gender or location exclusion on Google; a
placement, company-size, seniority, industry or job-function exclusion; Meta's region exclusion and
age range narrowed by a band at an edge) as a state of one
segment of one ad set: what the gate, the guardrails, the executor's drift check and the settlement
need to know about them.

A segment action's change is `{"from": {...}, "to": {...}}` with `dimension`, `segment`, `excluded`
and, for Google's device bid modifier, `bid_modifier` (a fraction: -1.0 is -100%, None is no
modifier). The connectors report the live state on the ad set as `excluded_segments`
({dimension: [segment, ...]}) and, on Google ad groups, `device_bid_modifiers` ({device: fraction}).
An undo is the same kind with `from` and `to` swapped: it restores the modifier that was there, or
takes the exclusion away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping

from connectors.records import Entity

SEGMENT_KINDS: frozenset[str] = frozenset({"set_device_bid_modifier", "exclude_placement", "exclude_company_size",
                                           "exclude_seniority", "exclude_industry", "narrow_age_range",
                                           "exclude_region", "exclude_age_range", "exclude_gender",
                                           "exclude_location", "exclude_job_function"})
MODIFIER_KIND = "set_device_bid_modifier"


def live_segment_state(kind: str, entity: Entity, dimension: str, segment: str) -> dict[str, Any] | None:
    """The segment's live state on `entity` as a change side would state it; None when the
    connector does not tell (no `excluded_segments` attribute)."""
    excluded_by_dimension = entity.attributes.get("excluded_segments")
    if not isinstance(excluded_by_dimension, Mapping):
        return None
    state: dict[str, Any] = {"excluded": segment in {str(s) for s in excluded_by_dimension.get(dimension, ())}}
    if kind == MODIFIER_KIND:
        modifiers = entity.attributes.get("device_bid_modifiers") or {}
        modifier = modifiers.get(segment)
        state["bid_modifier"] = None if modifier is None else float(modifier)
    return state


def _same_modifier(live: Any, wanted: Any) -> bool:
    if live is None or wanted is None:
        return live is None and wanted is None
    return abs(float(live) - float(wanted)) < 1e-9


def matches(kind: str, live: Mapping[str, Any], side: Mapping[str, Any]) -> bool:
    """Whether the live state is the one a change side (`from` or `to`) describes."""
    if kind == MODIFIER_KIND and "bid_modifier" in side:
        return _same_modifier(live.get("bid_modifier"), side.get("bid_modifier"))
    return bool(live.get("excluded")) == bool(side.get("excluded"))


def segment_applied(action: RowMapping | Mapping[str, Any], entity: Entity | None) -> bool | None:
    """Whether the platform shows the action's `to` (True), still its `from` (False), or cannot tell (None)."""
    if entity is None:
        return None
    change = action["change"]
    target, before = change.get("to", {}), change.get("from", {})
    live = live_segment_state(action["kind"], entity, str(target.get("dimension")), str(target.get("segment")))
    if live is None:
        return None
    if matches(action["kind"], live, target):
        return True
    return False if matches(action["kind"], live, before) else None


def segment_drift(action: RowMapping | Mapping[str, Any], entity: Entity) -> str | None:
    """Why a segment action must not be sent (already in its `to`, or the live state moved away
    from its `from` meanwhile: not overwritten); None when it may run or the connector cannot tell."""
    applied = segment_applied(action, entity)
    target = action["change"].get("to", {})
    live = live_segment_state(action["kind"], entity, str(target.get("dimension")), str(target.get("segment")))
    if applied is None:
        if live is None:
            return None
        return (f"drift: {target.get('dimension')} {target.get('segment')} is now {live} on the platform, not the "
                f"proposal's {dict(action['change'].get('from', {}))}; not overwritten")
    if applied:
        return "the segment is already in the proposed state (changed outside the agent)"
    return None
