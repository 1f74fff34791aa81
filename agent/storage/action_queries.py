"""Read-only questions about the actions table, beside its state machine (agent/storage/action_states.py).

What the agent applied lately (cooldowns, change caps, hysteresis), a budget plan's legs and the
budget actions still open, the additive actions that already claim an effect, and the actions a
backtest day produced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, RowMapping, Table, and_, or_, select

from agent.storage.models import Action
from policies.base import BudgetMove

# what counts as applied when the agent looks back (also agent.actions.APPLIED_OR_MAYBE):
# a write whose outcome is unknown counts as applied until it is settled
APPLIED_STATES = ("executed", "unknown")
ACTIONS: Table = Action.__table__  # type: ignore[assignment]


def load_recent_changes(connection: Connection, account_id: str, since: datetime) -> dict[str, list[date]]:
    """Days on which the agent executed a change on each entity (for cooldowns and change caps);
    a change whose outcome is still unknown counts as executed until it is settled."""
    query = select(Action.entity_id, Action.updated_at).where(
        Action.account_id == account_id, Action.state.in_(APPLIED_STATES), Action.updated_at >= since
    )
    changes: dict[str, list[date]] = defaultdict(list)
    for entity_id, updated_at in connection.execute(query):
        changes[entity_id].append(updated_at.date())
    return dict(changes)


def load_recent_budget_moves(connection: Connection, account_id: str, since: datetime,
                            timezone: str) -> dict[str, list[BudgetMove]]:
    """Budget changes the agent executed (or whose outcome is still unknown, which counts as applied)
    on each entity since `since`, oldest first (for hysteresis)."""
    query = select(Action.entity_id, Action.change, Action.updated_at).where(
        Action.account_id == account_id, Action.state.in_(APPLIED_STATES), Action.kind == "set_budget",
        Action.updated_at >= since,
    ).order_by(Action.updated_at, Action.id)
    moves: dict[str, list[BudgetMove]] = defaultdict(list)
    for entity_id, change, updated_at in connection.execute(query):
        try:
            before = Decimal(str(change["from"]["daily_budget"]))
            after = Decimal(str(change["to"]["daily_budget"]))
        except (KeyError, TypeError, ArithmeticError):
            continue  # not a budget change we can read: no direction to keep
        at = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)
        moves[entity_id].append(BudgetMove(at.astimezone(ZoneInfo(timezone)).date(), before, after))
    return dict(moves)


def budget_actions_since(connection: Connection, account_id: str, since: datetime) -> list[RowMapping]:
    """The account's real (not dry-run) set_budget actions created since `since`, in any state, oldest first."""
    query = select(ACTIONS).where(
        Action.account_id == account_id, Action.kind == "set_budget", Action.dry_run.is_(False),
        Action.created_at >= since,
    ).order_by(Action.id)
    return list(connection.execute(query).mappings())


def budget_actions_on(connection: Connection, account_id: str, entity_id: str, states: Collection[str],
                      created_since: datetime | None = None) -> list[RowMapping]:
    """An entity's real set_budget actions in one of `states` (created since `created_since`, if given)."""
    query = select(ACTIONS).where(
        Action.account_id == account_id, Action.entity_id == entity_id, Action.kind == "set_budget",
        Action.dry_run.is_(False), Action.state.in_(states),
    )
    if created_since is not None:
        query = query.where(Action.created_at >= created_since)
    return list(connection.execute(query).mappings())


def actions_claiming(connection: Connection, account_id: str, entity_id: str, kind: str,
                     open_states: Collection[str], executed_since: datetime) -> list[RowMapping]:
    """An entity's real actions of one kind that are open (in `open_states`) or executed since `executed_since`."""
    query = select(ACTIONS).where(
        Action.account_id == account_id,
        Action.entity_id == entity_id,
        Action.kind == kind,
        Action.dry_run.is_(False),
        or_(Action.state.in_(open_states),
            and_(Action.state == "executed", Action.updated_at >= executed_since)),
    )
    return list(connection.execute(query).mappings())


def actions_after(connection: Connection, last_id: int) -> list[Row[Any]]:
    """Actions with an id above `last_id`, oldest first: (id, account_id, entity_id, entity_level, kind,
    policy, state, idempotency_key)."""
    query = select(Action.id, Action.account_id, Action.entity_id, Action.entity_level, Action.kind,
                   Action.policy, Action.state, Action.idempotency_key).where(Action.id > last_id).order_by(Action.id)
    return list(connection.execute(query))
