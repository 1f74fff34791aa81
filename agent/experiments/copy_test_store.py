"""Reading and writing the `copy_tests` table, and the actions a copy test reads (the executed
drafts it launches, its own launch and loser-pause actions)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, insert, select, update

from agent.experiments.models import CopyTest
from agent.storage.models import Action

COPY_TESTS: Table = CopyTest.__table__  # type: ignore[assignment]
POLICY = "copy_test"  # the policy name of a test's own actions (launch, loser pause)
OPEN_STATUSES = ("launching", "running", "concluding")  # a test the cycle still looks at


def drafts_to_launch(connection: Connection, account_id: str, executed_since: datetime) -> list[RowMapping]:
    """The account's copywriter drafts executed (created paused) since `executed_since` that have no
    copy test yet, oldest first. Only executed drafts: one held out, refused, waiting or dry-run is
    never launched."""
    tested = select(CopyTest.draft_action_id).where(CopyTest.account_id == account_id)
    query = select(Action).where(
        Action.account_id == account_id, Action.kind == "new_ad", Action.policy == "copywriter",
        Action.state == "executed", Action.dry_run.is_(False), Action.updated_at >= executed_since,
        Action.id.not_in(tested),
    ).order_by(Action.id)
    return list(connection.execute(query).mappings())


def open_tests(connection: Connection, account_id: str) -> list[RowMapping]:
    query = select(COPY_TESTS).where(CopyTest.account_id == account_id, CopyTest.status.in_(OPEN_STATUSES))
    return list(connection.execute(query.order_by(CopyTest.id)).mappings())


def latest_test_action(connection: Connection, account_id: str, entity_id: str, kind: str) -> RowMapping | None:
    """The newest action of a copy test of this kind on the ad (its launch or its loser's pause)."""
    query = select(Action).where(Action.account_id == account_id, Action.entity_id == entity_id,
                                 Action.kind == kind, Action.policy == POLICY, Action.dry_run.is_(False))
    return connection.execute(query.order_by(Action.id.desc()).limit(1)).mappings().one_or_none()


def insert_test(connection: Connection, values: Mapping[str, Any]) -> int:
    result = connection.execute(insert(CopyTest).values(**{"reason": "", "counts": {}, **values}))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_test(connection: Connection, test_id: int, expected_status: str, values: Mapping[str, Any]) -> bool:
    """Move one test on, only from the status it was read in (two cycles cannot both end it)."""
    result = connection.execute(update(CopyTest).where(CopyTest.id == test_id, CopyTest.status == expected_status)
                                .values(**values))
    return result.rowcount == 1


def copy_tests_since(connection: Connection, since: datetime | None = None,
                accounts: Collection[str] | None = None) -> list[RowMapping]:
    """Every copy test created since `since` (all without it), oldest first."""
    query = select(COPY_TESTS).order_by(CopyTest.id)
    if since is not None:
        query = query.where(CopyTest.created_at >= since)
    if accounts is not None:
        query = query.where(CopyTest.account_id.in_(sorted(accounts)))
    return list(connection.execute(query).mappings())


def launches_on(connection: Connection, platform: str, outcomes: Collection[str]) -> list[RowMapping]:
    """The platform's copy tests (every account's) that ended with one of `outcomes` and have both a
    predicted and an observed CTR, oldest first: the launches whose errors feed the predictor back."""
    query = (select(CopyTest.predicted_ctr, CopyTest.observed_ctr, CopyTest.feedback_log_shift)
             .where(CopyTest.platform == platform, CopyTest.outcome.in_(sorted(outcomes)),
                    CopyTest.predicted_ctr.is_not(None), CopyTest.observed_ctr.is_not(None))
             .order_by(CopyTest.id))
    return list(connection.execute(query).mappings())


def latest_actions_of_kind(connection: Connection, account_id: str, kind: str) -> dict[str, RowMapping]:
    """The newest action of `kind` (any policy, dry runs aside) on each of the account's entities."""
    query = select(Action).where(Action.account_id == account_id, Action.kind == kind, Action.dry_run.is_(False))
    return {row["entity_id"]: row for row in connection.execute(query.order_by(Action.id)).mappings()}
