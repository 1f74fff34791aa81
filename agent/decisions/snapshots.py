"""What the policies (and the reports) read about an account: built from our own store, never
from the platform, so evaluation is reproducible from the database alone."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AccountConfig
from agent.outcomes.facts import load_outcome_facts
from agent.storage import action_queries, annotation_store, store
from policies.base import Snapshot

SNAPSHOT_HISTORY_DAYS = 90
BUDGET_HISTORY_DAYS = 35  # the remedy ladder reads the budget levels of the pause test's 28-day window
KNOWN_CHANGES_DAYS = 60  # at least the anomaly settings' largest `known_change_days`


def load_snapshot(engine: Engine, account: AccountConfig, today: date, clock: Clock) -> Snapshot:
    """Everything the policies may read about one account, from our own store (never the platform)."""
    since = today - timedelta(days=SNAPSHOT_HISTORY_DAYS)
    with engine.connect() as connection:
        entities = store.load_entities(connection, account.id)
        daily = store.load_daily_metrics(connection, account.id, since, today)
        search_terms = store.load_search_terms(connection, account.id, today - timedelta(days=30), today)
        audiences = store.load_audiences(connection, account.id)
        reach = store.load_reach_estimates(connection, account.id)
        changes = action_queries.load_recent_changes(connection, account.id, clock.now() - timedelta(days=14))
        budget_moves = action_queries.load_recent_budget_moves(connection, account.id,
                                                               clock.now() - timedelta(days=BUDGET_HISTORY_DAYS),
                                                               account.timezone)
        revisions = store.load_conversion_revisions(connection, account.id, since)
        known = annotation_store.known_changes(connection, account.id, account.timezone,
                                               clock.now() - timedelta(days=KNOWN_CHANGES_DAYS), since)
        outcomes = load_outcome_facts(connection, account.id, account.currency, since, clock.now())
    first = next(iter(entities.values()), None)
    return Snapshot(
        account_id=account.id,
        platform=first.platform if first else account.platform,
        currency=account.currency,
        timezone=account.timezone,
        today=today,
        entities=entities,
        daily=daily,
        # read-only stand-ins (a Performance Max campaign's ad set) have nothing a policy could change
        protected_entities=frozenset(account.protected_entities)
        | {e.entity_id for e in entities.values() if e.attributes.get("read_only")},
        monthly_budget=account.monthly_budget,
        search_terms=search_terms,
        audiences=audiences,
        reach_estimates=reach,
        recent_changes=changes,
        conversion_revisions=revisions,
        recent_budget_moves=budget_moves,
        known_changes=known,
        outcomes=outcomes,
    )
