"""Counting what faults did, from the platform's own record against the agent's action records.

The platform's record is the simulator's mutation log (`sim_mutations`): every write that reached
the platform, whichever connector carried it. The agent's record is the `actions` table. Both are
read with plain SQL so the counts do not depend on the executor's own code, only on the tables.

- duplicate: a log row any of whose effects (same entity, same kind, same value: a budget amount,
  an audience, a keyword, an ad's copy) an earlier row already had, or that repeats an earlier
  row's idempotency key.
- lost: an approved action that never reached the platform and ended neither executed nor with a
  reason that explains it: still `approved` though not held, or `failed` with no error from the
  platform (e.g. given up as "check by hand" although nothing was applied).
- stuck: an action left `executing` (or in any state that is neither terminal nor waiting for a
  person or the queue), and a cycle left `running` after the last process has exited.
- mismatched: an action whose record disagrees with the log (executed with no log row, or not
  executed with one), and log rows no action accounts for.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

SETTLED = frozenset({"executed", "failed", "rejected", "expired", "superseded", "reported", "held_out"})
WAITING = frozenset({"proposed", "pending_approval", "approved"})  # for a person, or for the queue


@dataclass
class Counts:
    """One scenario's figures; added up over its trials."""

    injections: int = 0
    duplicates: int = 0
    lost: int = 0
    stuck_actions: int = 0
    stuck_cycles: int = 0
    mismatched: int = 0
    writes: int = 0  # platform writes recorded in the log (context for the other figures)

    def add(self, other: Counts) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def say_done(scenario: str, database: str, counts: Counts) -> None:
    """One finished scenario's counts, printed at once: a long run shows its figures as it goes."""
    figures = ", ".join(f"{item.name} {getattr(counts, item.name)}" for item in fields(counts))
    print(f"  {scenario} ({database}): {figures}", flush=True)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else (value or {})


def effects(kind: str, account_id: str, entity_id: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """What one write did to the platform, as comparable items: a repeat of any item is a duplicate."""
    base = (account_id, entity_id, kind)
    if kind == "set_budget":
        return [(*base, str(Decimal(str(params.get("daily_budget"))).normalize()))]
    if kind == "exclude_audience":
        return [(*base, str(params.get("audience_id")))]
    if kind == "add_negative_keywords":
        return [(*base, str(k.get("text", "")).lower(), k.get("match_type")) for k in params.get("keywords", [])]
    if kind == "new_ad":
        copy = {k: v for k, v in params.items() if k not in ("new_ad_id", "name")}  # ids and labels differ
        return [(*base, json.dumps(copy, sort_keys=True, default=str))]
    return [base]  # pause, enable: the same state set twice


def duplicate_rows(rows: Iterable[Mapping[str, Any]]) -> int:
    """Log rows that repeat an earlier row's effect or idempotency key."""
    seen_effects: set[tuple[Any, ...]] = set()
    seen_keys: set[str] = set()
    repeats = 0
    for row in rows:
        items = effects(row["kind"], row["account_id"], row["entity_id"], _json(row["params"]))
        key = str(row["idempotency_key"])
        if key in seen_keys or any(item in seen_effects for item in items):
            repeats += 1
        seen_keys.add(key)
        seen_effects.update(items)
    return repeats


def agent_rows(engine: Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(mutation log rows written by the agent, oldest first; actions; cycle statuses)."""
    with engine.connect() as connection:
        log = [dict(r) for r in connection.execute(sa.text(
            "SELECT * FROM sim_mutations WHERE actor = 'agent' ORDER BY id")).mappings()]
        actions = [dict(r) for r in connection.execute(sa.text(
            "SELECT id, account_id, entity_id, kind, state, decision_reason, idempotency_key, result, change, "
            "dry_run FROM actions ORDER BY id")).mappings()]
        cycles = [str(s) for s in connection.execute(sa.text("SELECT status FROM cycles")).scalars()]
    return log, actions, cycles


def is_lost(action: Mapping[str, Any], applied: int) -> bool:
    if applied or action["dry_run"]:
        return False
    if action["state"] == "approved":
        return not str(action["decision_reason"] or "").startswith("held")
    return action["state"] == "failed" and not _json(action["result"]).get("error")


def is_stuck(action: Mapping[str, Any]) -> bool:
    return action["state"] not in SETTLED | WAITING


def count_records(
    log: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    cycles: list[str],
    applied_by: Callable[[Mapping[str, Any]], int],
    unclaimed_rows: int,
) -> Counts:
    """The figures for one world. `applied_by(action)` says how many log rows carry that action;
    `unclaimed_rows` is how many log rows no action accounts for."""
    counts = Counts(writes=len(log), duplicates=duplicate_rows(log), mismatched=unclaimed_rows)
    counts.stuck_cycles = sum(1 for status in cycles if status == "running")
    for action in actions:
        applied = applied_by(action)
        counts.lost += is_lost(action, applied)
        counts.stuck_actions += is_stuck(action)
        executed = action["state"] == "executed"
        counts.mismatched += (executed and applied != 1) or (not executed and applied > 0)
    return counts


def count_simulated(engine: Engine) -> Counts:
    """The figures for a database where the agent drove the simulator directly: the log carries
    each action's idempotency key, so records and log are matched one for one by key."""
    log, actions, cycles = agent_rows(engine)
    by_key = Counter(str(row["idempotency_key"]) for row in log)
    known = {str(a["idempotency_key"]) for a in actions}
    unclaimed = sum(n for key, n in by_key.items() if key not in known)
    return count_records(log, actions, cycles, lambda a: by_key[str(a["idempotency_key"])], unclaimed)
