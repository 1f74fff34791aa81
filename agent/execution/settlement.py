"""Settling writes whose outcome is unknown, by reading the platform.

A write that timed out, lost its answer or got a server error may or may not have been applied.
Its actions are `unknown` (agent/storage/action_states.py) and are never sent again before this module has
asked the platform what happened:

- state kinds (pause, enable, set_budget): the live entity in the proposal's `to` -> `executed`;
  still in its `from` -> not applied: back to `approved` for a normal execution, or `failed`
  ("not applied") when it can no longer run (the entity is gone);
- segment kinds: the segment's live state (excluded, its bid modifier) in the `to` or the `from`;
- additive kinds: by their effect on the entity (an audience in the ad set's exclusions, keywords
  in the campaign's negative lists) or, for new ads, by the exactly-once tag the connector wrote
  into the ad (`applied_keys`).

Finding the effect settles at once. Not finding it is trusted only once the write is older than
`Settling.absent_after`: a request the platform is still working on may land after our read.
Until then the action stays `unknown`, and cooldowns, daily caps and the flip-flop guard count it
as applied (`executed_history`). What the platform cannot answer stays `unknown` and is asked
again by the next reconciliation: an action is recorded `failed` only if it was never applied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, RowMapping

from agent.clock import Clock
from agent.decisions.effects import effects_of, label_effect, live_effects, schedule_of
from agent.decisions.guardrails import LIVE_STATE_KINDS
from agent.decisions.segment_actions import SEGMENT_KINDS, segment_applied
from agent.errors import StaleTransition
from agent.settings import ExecutionSettings
from agent.storage.action_states import as_utc, get_action, transition
from connectors.base import Connector
from connectors.records import Entity

log = logging.getLogger(__name__)
STATE_FIELDS = ("status", "daily_budget", "ad_rotation")


@dataclass(frozen=True)
class Settling:
    """How unknown outcomes are settled right after a write: `attempts` reads, `delay_seconds`
    apart (the first after one delay), and how old a write must be before its absence on the
    platform proves it was not applied."""

    delay_seconds: float = 2.0
    attempts: int = 3
    absent_after: timedelta = timedelta(minutes=2)
    sleep: Callable[[float], None] = time.sleep


def settling_for(execution: ExecutionSettings) -> Settling:
    """The settling the config asks for (`execution.settle_*`)."""
    return Settling(delay_seconds=execution.settle_delay_seconds, attempts=execution.settle_attempts,
                    absent_after=timedelta(seconds=execution.settle_absent_after_seconds))


def _same(live: Any, expected: Any) -> bool:
    if isinstance(live, Decimal) or isinstance(expected, Decimal):
        try:
            return Decimal(str(live)) == Decimal(str(expected))
        except ArithmeticError:
            return False
    return bool(live == expected)


def live_matches(entity: Entity, state: Mapping[str, Any]) -> bool | None:
    """Whether the live entity is in `state` (a change's `from` or `to`); None if not comparable."""
    fields = [f for f in STATE_FIELDS if f in state]
    values = {"status": entity.status, "daily_budget": entity.daily_budget,
              "ad_rotation": entity.attributes.get("ad_rotation")}
    if not fields or ("ad_rotation" in fields and values["ad_rotation"] is None):
        return None  # nothing to compare, or a setting the connector does not report
    return all(_same(values[f], Decimal(str(state[f])) if f == "daily_budget" else state[f]) for f in fields)


def applied_on_platform(action: RowMapping, entity: Entity | None, tagged: set[str] | None) -> bool | None:
    """Whether the platform shows this action's effect: True, False, or None (cannot tell).

    `tagged` is the set of idempotency keys whose new ad the platform has (None: no way to ask)."""
    kind = action["kind"]
    change = action["change"]
    target: Mapping[str, Any] = change.get("to", {})
    if kind == "new_ad":
        return None if tagged is None else action["idempotency_key"] in tagged
    if entity is None:
        return None
    if kind in LIVE_STATE_KINDS:
        if live_matches(entity, target):
            return True
        return False if live_matches(entity, change.get("from", {})) else None
    if kind in SEGMENT_KINDS:  # the segment's live state: in the `to`, still in the `from`, or neither
        return segment_applied(action, entity)
    if kind == "set_ad_schedule":
        live_schedule = schedule_of(entity)
        if live_schedule is None:
            return None
        if live_schedule == schedule_of(replace(entity, attributes={"ad_schedule": target.get("ad_schedule") or []})):
            return True
        before = schedule_of(replace(entity, attributes={"ad_schedule": change.get("from", {}).get("ad_schedule") or []}))
        return False if live_schedule == before else None
    if kind == "remove_audience_exclusion":
        present = live_effects("exclude_audience", entity)
        audience = ("audience", str(change.get("from", {}).get("excluded_audience_id")))
        return None if present is None else audience not in present
    if kind == "remove_label":
        present = live_effects(kind, entity)
        return None if present is None else label_effect(target.get("label")) not in present
    if kind in ("exclude_audience", "add_negative_keywords", "add_label"):
        wanted, present = effects_of(kind, change), live_effects(kind, entity)
        if not wanted or present is None:
            return None  # nothing to look for, or the connector does not list it
        if wanted <= present:
            return True
        return None if wanted & present else False  # partly there: a person must look, nothing re-sent
    return None


def platform_view(connector: Connector, account_id: str,
                  actions: Sequence[RowMapping]) -> tuple[dict[str, Entity], set[str] | None]:
    """One reading of what the platform shows for `actions`: their live entities, and the keys of
    their new ads found by tag (None where the connector cannot look tags up)."""
    live = {e.entity_id: e for e in connector.entities(account_id, sorted({a["entity_id"] for a in actions}))}
    new_ads = [a["idempotency_key"] for a in actions if a["kind"] == "new_ad"]
    finder = getattr(connector, "applied_keys", None)
    tagged = set(finder(account_id, new_ads)) if new_ads and finder is not None else None
    return live, tagged


def settle(engine: Engine, connector: Connector, account_id: str, actions: Sequence[RowMapping], clock: Clock,
           settling: Settling, *, actor: str = "settlement") -> dict[int, str]:
    """One reading of the platform for `actions` (all `unknown`, one account); moves those it can
    settle and returns {action id: new state}."""
    if not actions:
        return {}
    live, tagged = platform_view(connector, account_id, actions)
    moved: dict[int, str] = {}
    for action in actions:
        entity = live.get(action["entity_id"])
        applied = applied_on_platform(action, entity, tagged)
        outcome = _outcome(action, entity, applied, clock, settling)
        if outcome is None:
            continue
        state, reason = outcome
        try:
            with engine.begin() as connection:
                transition(connection, action["id"], state, actor=actor, now=clock.now(), expected="unknown",
                           reason=reason, result={**(action["result"] or {}), "settled": state})
        except StaleTransition:
            continue  # settled by another process first
        moved[action["id"]] = state
    return moved


def _outcome(action: RowMapping, entity: Entity | None, applied: bool | None, clock: Clock,
             settling: Settling) -> tuple[str, str] | None:
    if applied:
        return "executed", "found applied on the platform after its answer was lost"
    if applied is None:
        return None
    if clock.now() - as_utc(action["updated_at"]) < settling.absent_after:
        return None  # it may still land: absence proves nothing yet
    if entity is None or entity.status == "REMOVED":
        return "failed", f"not applied: {action['entity_id']} no longer exists on the platform"
    return "approved", "not applied (checked on the platform): back in the queue"


def settle_soon(engine: Engine, connector: Connector, account_id: str, action_ids: Sequence[int], clock: Clock,
                settling: Settling) -> dict[int, str]:
    """Right after a write: up to `settling.attempts` readings, `delay_seconds` apart, until every
    action in `action_ids` is settled. Reading errors are logged; what is left stays `unknown`."""
    moved: dict[int, str] = {}
    pending = list(action_ids)
    for _ in range(max(0, settling.attempts)):
        if not pending:
            break
        settling.sleep(settling.delay_seconds)
        with engine.connect() as connection:
            rows = [row for row in (get_action(connection, i) for i in pending) if row is not None]
        rows = [row for row in rows if row["state"] == "unknown"]
        try:
            moved.update(settle(engine, connector, account_id, rows, clock, settling))
        except Exception:  # a read failing here is the next reconciliation's to retry
            log.exception("settling %d unknown outcome(s) of account %s failed; left for reconciliation",
                          len(rows), account_id)
        pending = [row["id"] for row in rows if row["id"] not in moved]
    return moved
