"""The executor's door to audience actions: `sync_audience` and `create_lookalike` need no entity
read; they run against the connector's audience syncer and lookalike creator."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, RowMapping

from agent.audiences.desired import DesiredSource
from agent.audiences.lookalikes import LOOKALIKE_KIND, create_lookalike
from agent.audiences.proposals import SYNC_KIND, platform_of
from agent.audiences.sync import run_audience_actions
from agent.clock import Clock
from agent.config import AccountConfig
from agent.storage.db_retry import transition_retrying
from connectors.errors import WritesStopped

AUDIENCE_KINDS = (SYNC_KIND, LOOKALIKE_KIND)


def run_audience_work(engine: Engine, account: AccountConfig, connector: object, desired_of: DesiredSource,
                      actions: Sequence[RowMapping | Mapping[str, Any]], clock: Clock, worker: str,
                      count: Callable[[str], None], guard: Callable[[], None] = lambda: None,
                      problem: Callable[[str], None] = lambda _line: None) -> None:
    """Execute claimed audience actions and record each one's outcome; `problem` gets a line for each
    one skipped, refused or unanswered (the cycle's report)."""
    syncs = [a for a in actions if a["kind"] == SYNC_KIND]
    if syncs:
        make_syncer = getattr(connector, "audience_syncer", None)
        run_audience_actions(engine, account, make_syncer() if make_syncer else None, desired_of, syncs, clock,
                             worker, count, guard, problem)
    make_creator = getattr(connector, "lookalike_creator", None)
    for action in [a for a in actions if a["kind"] == LOOKALIKE_KIND]:
        if make_creator is None:
            state, reason = "failed", f"{platform_of(account)} has no lookalike audiences in this connector"
        else:
            try:
                state, reason = create_lookalike(engine, dict(action), account, make_creator(), clock.now(), guard)
            except WritesStopped as stop:
                state, reason = "approved", str(stop)
        transition_retrying(engine, action["id"], state, actor=worker, now=clock.now(), expected="executing",
                            reason=reason)
        if state == "failed" or "no answer" in reason:
            problem(f"{account.id}: create_lookalike {action['change']['to'].get('seed_audience_id')}: {reason}")
        count("held" if state == "approved" else state)
