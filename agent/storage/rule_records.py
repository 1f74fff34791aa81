"""User rules' records: their firings read back from the actions table, their traces written to and
read from the audit trail (`rule_evaluated` events, one per rule per account per evaluation, whose data
holds every entity in scope with each comparison's value, reference, posterior probability and
result). The audit trail is append-only and already exported, so traces need no table of their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from agent.storage.action_states import as_utc
from agent.storage.audit_trail import record_event
from agent.storage.models import Action, AuditEvent
from policies.rules.evaluate import RuleEvaluation, RuleHistory

TRACE_EVENT = "rule_evaluated"
HISTORY_DAYS = 40  # longer than the longest period (a month)
NOT_FIRINGS = ("superseded", "rejected", "failed", "expired")  # the rule's action never took effect


def load_rule_history(connection: Connection, account_id: str, timezone: str, now: datetime) -> RuleHistory:
    """Each rule's firings per entity (one per cycle that recorded an action of it that may take or
    took effect, dry-run reports included) and the day each rule was last evaluated on the account."""
    zone = ZoneInfo(timezone)
    query = select(Action.policy, Action.entity_id, Action.evidence, Action.cycle_id, Action.created_at).where(
        Action.account_id == account_id, Action.policy.like("rule:%"), Action.state.not_in(NOT_FIRINGS),
        Action.created_at >= now - timedelta(days=HISTORY_DAYS))
    cycles: dict[tuple[str, str], dict[Any, date]] = defaultdict(dict)
    for row in connection.execute(query):
        entity = str((row.evidence or {}).get("rule_entity") or row.entity_id)
        key = (row.policy.removeprefix("rule:"), entity)
        cycles[key][row.cycle_id or row.created_at] = as_utc(row.created_at).astimezone(zone).date()
    events = select(AuditEvent.data).where(AuditEvent.account_id == account_id, AuditEvent.event == TRACE_EVENT,
                                           AuditEvent.simulated_day >= now.date() - timedelta(days=2))
    last: dict[str, date] = {}
    for (data,) in connection.execute(events):
        day = date.fromisoformat(str(data.get("day")))
        rule = str(data.get("rule"))
        last[rule] = max(day, last.get(rule, day))
    return RuleHistory({key: sorted(days.values()) for key, days in cycles.items()}, last)


def record_traces(connection: Connection, account_id: str, day: date, evaluation: RuleEvaluation, now: datetime,
                  cycle_id: int | None) -> None:
    for rule, traces in evaluation.traces.items():
        fired = sum(1 for t in traces if t.fired)
        record_event(connection, at=now, event=TRACE_EVENT, actor=f"rule:{rule}",
                     message=f"rule {rule}: fired on {fired} of {len(traces)} entities",
                     data={"rule": rule, "day": day.isoformat(), "entities": [t.as_dict() for t in traces]},
                     cycle_id=cycle_id, account_id=account_id)


def load_traces(connection: Connection, rule: str, entity_id: str | None = None,
                limit: int = 20) -> Sequence[dict[str, Any]]:
    """The rule's latest evaluations, newest first: account, cycle, day, time and the entities' traces
    (only `entity_id`'s if given; evaluations without it are left out)."""
    query = (select(AuditEvent.account_id, AuditEvent.cycle_id, AuditEvent.at, AuditEvent.data)
             .where(AuditEvent.event == TRACE_EVENT, AuditEvent.actor == f"rule:{rule}")
             .order_by(AuditEvent.id.desc()))
    found: list[dict[str, Any]] = []
    for row in connection.execute(query):
        entities = [e for e in row.data.get("entities", []) if entity_id is None or e.get("entity_id") == entity_id]
        if entities:
            found.append({"account_id": row.account_id, "cycle_id": row.cycle_id, "at": as_utc(row.at),
                          "day": row.data.get("day"), "entities": entities})
        if len(found) >= limit:
            break
    return found


NOTICE_SENT_EVENT = "rule_notice_sent"
NOTICE_DAYS = 7  # a notice not delivered within a week is stale: the rule's next firing says it again


def unsent_rule_notices(connection: Connection, now: datetime) -> list[Any]:
    """Rules' `notify` actions of the last week that were reported live (not a dry run, not a rule on
    `dry_run`) and have no `rule_notice_sent` event yet, oldest first."""
    sent = select(AuditEvent.action_id).where(AuditEvent.event == NOTICE_SENT_EVENT,
                                              AuditEvent.action_id.is_not(None))
    query = (select(Action.id, Action.account_id, Action.entity_id, Action.entity_name, Action.policy,
                    Action.change, Action.evidence, Action.cycle_id)
             .where(Action.kind == "notify", Action.policy.like("rule:%"), Action.state == "reported",
                    Action.dry_run.is_(False), Action.created_at >= now - timedelta(days=NOTICE_DAYS),
                    Action.id.not_in(sent))
             .order_by(Action.id))
    return [row for row in connection.execute(query) if not (row.evidence or {}).get("rule_dry_run")]


def record_notice_sent(connection: Connection, action_id: int, account_id: str, rule: str, channels: Sequence[str],
                       now: datetime, cycle_id: int | None) -> None:
    record_event(connection, at=now, event=NOTICE_SENT_EVENT, actor=f"rule:{rule}",
                 message=f"rule {rule}: notice sent via {', '.join(channels)}", data={"channels": list(channels)},
                 cycle_id=cycle_id, action_id=action_id, account_id=account_id)
