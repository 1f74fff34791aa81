"""Proposals and changes in words for people: names instead of ids, and only what changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.console.formatting import money
from agent.decisions.segment_actions import SEGMENT_KINDS

LEVELS = {"ad_set": "ad set", "campaign": "campaign", "ad": "ad", "account": "account"}
FIELD_NAMES = {"status": "status", "daily_budget": "daily budget", "lifetime_budget": "lifetime budget",
               "bid": "bid", "list_name": "list"}


def _value(field: str, value: Any, currency: str) -> str:
    if field.endswith("budget") or field == "bid":
        return money(value, currency)
    if isinstance(value, str):
        return value.lower() if field == "status" else value
    return str(value)


def _keywords(items: Any) -> str:
    words = []
    for item in items or ():
        if isinstance(item, Mapping):
            match = str(item.get("match_type", "")).lower()
            words.append(f"“{item.get('text', '')}”" + (f" ({match} match)" if match else ""))
        else:
            words.append(f"“{item}”")
    return ", ".join(words) or "none"


def _audiences(ids: Any, names: Mapping[str, str]) -> str:
    if isinstance(ids, str):
        ids = [ids]
    return ", ".join(names.get(str(i), f"audience {i}") for i in ids or ()) or "none"


def change_lines(kind: str, change: Mapping[str, Any], currency: str,
                 audience_names: Mapping[str, str] | None = None) -> list[str]:
    """One line per field that differs between `change["from"]` and `change["to"]`."""
    before: Mapping[str, Any] = change.get("from") or {}
    after: Mapping[str, Any] = change.get("to") or {}
    names = audience_names or {}
    if kind == "add_negative_keywords":
        added = [k for k in after.get("keywords", []) if k not in (before.get("keywords") or [])]
        where = f" to the list “{after['list_name']}”" if after.get("list_name") else ""
        return [f"add negative keywords {_keywords(added)}{where}"]
    if kind == "exclude_audience":
        target = after.get("excluded_audience_id") or after.get("excluded_audience_ids")
        already = before.get("excluded_audience_ids") or []
        line = f"exclude the audience {_audiences(target, names)}"
        return [line + (f" (already excluded: {_audiences(already, names)})" if already else "")]
    if kind == "remove_audience_exclusion":
        return [f"stop excluding the audience {_audiences(before.get('excluded_audience_id'), names)}"]
    if kind == "upload_conversions":  # CRM ids are not for the page: counts (the audit has the list)
        retractions = len(after.get("retractions") or [])
        return [f"send {len(after.get('uploads') or [])} CRM stage(s) as offline conversions"
                + (f", retract {retractions} of deals since lost" if retractions else "")]
    if kind == "sync_audience":  # counts only: members are never shown
        resend = f", re-send {after['resend']} unanswered batch(es)" if after.get("resend") else ""
        return [f"add {after.get('add', 0)} and remove {after.get('remove', 0)} member(s) of the CRM segment "
                f"“{after.get('segment', '')}” in audience {after.get('audience_id', '')}{resend}"]
    if kind == "create_lookalike":
        return [f"create a lookalike of audience {after.get('seed_audience_id', '')} (segment "
                f"“{after.get('segment', '')}”) in {after.get('country', '')}, ratio {after.get('ratio', '')}"]
    if kind == "set_ad_schedule":
        return [f"ad schedule: {_schedule(before.get('ad_schedule'))} → {_schedule(after.get('ad_schedule'))}"]
    if kind == "set_ad_rotation":
        return [f"ad rotation: {_rotation(before.get('ad_rotation'))} → {_rotation(after.get('ad_rotation'))}"]
    if kind in ("add_label", "remove_label"):
        return [f"{'add' if kind == 'add_label' else 'remove'} the label “{after.get('label', '')}”"]
    if kind in SEGMENT_KINDS:
        what = f"{str(after.get('dimension', '')).replace('_', ' ')} {after.get('segment', '')}"
        if kind == "set_device_bid_modifier":
            def shown(modifier: Any) -> str:
                return "none" if modifier is None else f"{float(modifier):+.0%}"
            return [f"bid modifier for {what}: {shown(before.get('bid_modifier'))} → {shown(after.get('bid_modifier'))}"]
        lines = [f"stop delivery to {what}" if after.get("excluded") else f"deliver to {what} again"]
        if kind == "exclude_location":  # Google targets locations on the campaign
            lines.append("for every ad group of the campaign (a campaign location criterion)")
        if kind == "narrow_age_range" and after.get("age_min") is not None:
            lines.append(f"age range: {before.get('age_min')}-{before.get('age_max')} → "
                         f"{after.get('age_min')}-{after.get('age_max')}")
        return lines
    if kind == "new_ad":
        lines = [f"create a new ad “{after.get('headline', '')}”" + (" (paused, for review)"
                                                                      if after.get("status") == "PAUSED" else "")]
        if after.get("description"):
            lines.append(f"description: “{after['description']}”")
        return lines
    lines = []
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        label = FIELD_NAMES.get(field, field.replace("_", " "))
        if old is None:
            lines.append(f"set {label} to {_value(field, new, currency)}")
        elif new is None:
            lines.append(f"clear {label} (was {_value(field, old, currency)})")
        else:
            lines.append(f"{label}: {_value(field, old, currency)} → {_value(field, new, currency)}")
    return lines or ["no visible change"]


def _rotation(mode: Any) -> str:
    """Google's ad rotation modes in the words its interface uses."""
    return {"OPTIMIZE": "optimize (best-performing ads served more)",
            "ROTATE_FOREVER": "rotate evenly (do not optimize)"}.get(str(mode), str(mode or "unknown"))


def _schedule(blocks: Any) -> str:
    """`sat, sun x0.8; other hours x1` (hour ranges shown where a block is not the whole day)."""
    if not blocks:
        return "none (all hours)"
    by_modifier: dict[float, list[str]] = {}
    for block in blocks:
        hours = "" if (block["start_hour"], block["end_hour"]) == (0, 24) else f" {block['start_hour']}-{block['end_hour']}h"
        by_modifier.setdefault(float(block.get("bid_modifier", 1.0)), []).append(f"{block['day']}{hours}")
    return "; ".join(f"{', '.join(days)} x{modifier:g}" for modifier, days in sorted(by_modifier.items()))


def headline(action: Mapping[str, Any], currency: str) -> str:
    """`Pause the ad set “Shoes – retargeting”`, `Change the daily budget of the campaign “X”`."""
    level = LEVELS.get(str(action["entity_level"]), str(action["entity_level"]))
    name = f"the {level} “{action['entity_name']}”"
    kind = str(action["kind"])
    if kind == "set_budget":
        change = action["change"] or {}
        old = (change.get("from") or {}).get("daily_budget")
        new = (change.get("to") or {}).get("daily_budget")
        if old is not None and new is not None:
            verb = "Raise" if float(new) > float(old) else "Lower"
            return f"{verb} the daily budget of {name} from {money(old, currency)} to {money(new, currency)}"
        return f"Change the budget of {name}"
    verbs = {"pause": "Pause", "enable": "Turn on", "add_negative_keywords": "Add negative keywords to",
             "exclude_audience": "Exclude an audience from",
             "remove_audience_exclusion": "Stop excluding an audience from", "new_ad": "Add a new ad to",
             "upload_conversions": "Send CRM outcomes back to", "sync_audience": "Sync",
             "create_lookalike": "Seed a lookalike with", "add_label": "Label",
             "remove_label": "Remove a label from", "set_ad_schedule": "Set the ad schedule of",
             "set_ad_rotation": "Change the ad rotation of",
             "set_device_bid_modifier": "Change a device bid of",
             "exclude_placement": "Exclude a placement from", "exclude_company_size": "Exclude a company size from",
             "exclude_seniority": "Exclude a seniority from", "exclude_industry": "Exclude an industry from",
             "narrow_age_range": "Narrow the age range of", "exclude_region": "Exclude a region from",
             "exclude_age_range": "Exclude an age range from", "exclude_gender": "Exclude a gender from",
             "exclude_location": "Exclude a location from the campaign of",
             "exclude_job_function": "Exclude a job function from"}
    return f"{verbs.get(kind, kind.replace('_', ' ').capitalize())} {name}"


def evidence_lines(evidence: Mapping[str, Any], limit: int = 12) -> list[tuple[str, str]]:
    """The evidence's scalar facts as (label, value), for people; nested detail stays in the audit."""
    facts = []
    for key, value in evidence.items():
        if isinstance(value, Mapping | list | tuple):
            continue
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        facts.append((key.replace("_", " "), text))
    return facts[:limit]
