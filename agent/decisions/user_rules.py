"""User rules in the account's turn: their history from storage, their pure evaluation
(policies/rules/evaluate.py), their traces recorded (agent/storage/rule_records.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AccountConfig, AgentConfig
from agent.storage.intraday_store import load_intraday
from agent.storage.rule_records import load_rule_history, record_traces
from connectors.records import MetricRow
from policies.base import Proposal, Snapshot
from policies.rules.evaluate import RuleEvaluation, evaluate_rules


def evaluate_account_rules(engine: Engine, account: AccountConfig, config: AgentConfig, snapshot: Snapshot,
                           clock: Clock, cycle_id: int | None, *, record: bool = True) -> RuleEvaluation:
    """The configured rules over one account's snapshot, their traces recorded (unless `record` is off)."""
    now = clock.now()
    with engine.connect() as connection:
        history = load_rule_history(connection, account.id, account.timezone, now)
        partial, _ = load_intraday(connection, account.id, snapshot.today)
    snapshot = with_today(snapshot, partial)
    prior = config.policy_settings(account).underperformers.prior_conversions
    evaluation = evaluate_rules(snapshot, config.rules, now.astimezone(ZoneInfo(account.timezone)), history, prior)
    if record and evaluation.traces:
        with engine.begin() as connection:
            record_traces(connection, account.id, snapshot.today, evaluation, now, cycle_id)
    return evaluation


def with_today(snapshot: Snapshot, partial: Sequence[MetricRow]) -> Snapshot:
    """The snapshot with today's partial rows beside the complete days (for the rules' `today` and
    `month_to_date` windows only; the built-in policies' snapshot has complete days)."""
    if not partial:
        return snapshot
    daily: dict[str, list[MetricRow]] = {key: list(rows) for key, rows in snapshot.daily.items()}
    for row in partial:
        kept = [r for r in daily.get(row.entity_id, []) if r.day != row.day]
        daily[row.entity_id] = [*kept, row]
    return replace(snapshot, daily=daily)


def rule_proposals(engine: Engine, account: AccountConfig, config: AgentConfig, snapshot: Snapshot, clock: Clock,
                   cycle_id: int | None) -> list[Proposal]:
    """The cycle's hook: the rules' proposals for the account (none without rules)."""
    if not config.rules:
        return []
    return evaluate_account_rules(engine, account, config, snapshot, clock, cycle_id).proposals
