"""Carrying out an approved `sync_audience` action: each batch sent exactly once in effect.

Before a request, its batch is recorded `sending` with its members (agent/storage/audience_ledger.py)
and committed; the answer settles it. A write with no answer, or a process that dies between the
request and the record, leaves the batch `sending`: the next sync re-sends exactly its members under
the same batch id before planning anything new, and nothing else touches that audience until it is
settled. Where the platform can say whether it received that batch (Meta's upload sessions), it is
asked first, and a received batch is settled without sending it again; elsewhere it is re-sent, and
since membership is a set on every platform the audience ends as if it had gone once. A batch is
never dropped. Members of an unanswered add who are no longer wanted
(consent withdrawn, forgotten) are not re-sent but removed, since they may have landed.

Removals go before additions. The plan is re-computed right before sending; if it is not the one
that was approved (the segment changed since), nothing is sent and the action is superseded.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, RowMapping

from agent.audiences.desired import DesiredSource
from agent.audiences.proposals import current_plan, platform_of
from agent.clock import Clock
from agent.config import AccountConfig
from agent.storage.audience_ledger import (
    batch_members,
    open_batch,
    pending_batches,
    record_destination,
    release,
    resending,
    settle_batch,
)
from agent.storage.db_retry import transition_retrying
from connectors.audience_members import (
    MATCHABLE_KINDS,
    AudienceSyncer,
    AudienceTarget,
    BatchAnswer,
    MemberKey,
)
from connectors.errors import WritesStopped

log = logging.getLogger(__name__)


def target_for(account: AccountConfig, audience_id: str) -> AudienceTarget:
    platform_id = account.platform_account_id or account.id
    if platform_of(account) == "google_ads":
        platform_id = platform_id.replace("-", "")
    return AudienceTarget(account.id, platform_id, audience_id,
                          {k: v.get_secret_value() for k, v in account.credentials.items()})


def _send(syncer: AudienceSyncer, target: AudienceTarget, operation: Any, batch_id: str,
          members: Sequence[MemberKey]) -> BatchAnswer:
    try:
        return syncer.send(target, operation, batch_id, members)
    except Exception as error:  # may have been sent: the batch stays `sending` and is re-sent as it is
        log.warning("sync_audience %s: no answer for batch %s (%s)", target.audience_id, batch_id,
                    type(error).__name__)
        return BatchAnswer("unknown", f"no answer: {type(error).__name__}")


def _settle(engine: Engine, batch_id: str, operation: str, size: int, answer: BatchAnswer, now: datetime
            ) -> Counter[str]:
    counts: Counter[str] = Counter()
    if answer.status == "unknown":
        counts["unknown"] += size
        return counts
    with engine.begin() as connection:
        settle_batch(connection, batch_id, answer.status, now, answer.error)
    key = {"add": "added", "remove": "removed"}[operation] if answer.status == "applied" else answer.status
    counts[key] += size
    return counts


def _resend_pending(engine: Engine, action_id: int | None, account: AccountConfig, audience_id: str,
                    syncer: AudienceSyncer, wanted: frozenset[MemberKey], now: datetime, guard: Callable[[], None]
                    ) -> tuple[Counter[str], BatchAnswer | None]:
    """Settle the batches a lost answer or a crash left `sending`; the answer that stops the sync, if any."""
    counts: Counter[str] = Counter()
    target = target_for(account, audience_id)
    with engine.connect() as connection:
        pending = pending_batches(connection, account.id, audience_id)
    for batch in pending:
        guard()
        with engine.begin() as connection:
            members = batch_members(connection, batch["batch_id"])
            if batch["operation"] == "add":
                unwanted = [m for m in members if m not in wanted]
                release(connection, batch["batch_id"], unwanted, now)
                members = [m for m in members if m in wanted]
            resending(connection, batch["batch_id"], action_id, now)
        confirmed = not members or bool(syncer.received(target, batch["operation"], batch["batch_id"], members))
        # received by the platform: settled without sending it again; else re-sent under the same id
        answer = BatchAnswer("applied") if confirmed else _send(syncer, target, batch["operation"],
                                                                batch["batch_id"], members)
        settled = _settle(engine, batch["batch_id"], batch["operation"], len(members), answer, now)
        prefix = "confirmed_" if confirmed else "resent_"
        counts.update({prefix + k if k in ("added", "removed") else k: n for k, n in settled.items()})
        if answer.status in ("unknown", "not_permitted"):
            return counts, answer
    return counts, None


def sync_audience(engine: Engine, action: Mapping[str, Any], account: AccountConfig, syncer: AudienceSyncer,
                  desired_of: DesiredSource, now: datetime, guard: Callable[[], None] = lambda: None
                  ) -> tuple[Counter[str], str | None]:
    """Send the action's audience sync; counts by outcome, and why it stopped early (if it did).
    `guard` runs before each batch and raises `WritesStopped` to send nothing more (the kill switch).
    Where the platform uses the audience by another id (a LinkedIn DMP segment's ad segment), the
    syncer's `destination` is read after a sync the platform did not refuse, and recorded."""
    counts, stopped = _sync(engine, action, account, syncer, desired_of, now, guard)
    reader = getattr(syncer, "destination", None)
    if reader is not None and not counts["not_permitted"]:
        audience_id = str(action["change"].get("to", {})["audience_id"])
        destination = reader(target_for(account, audience_id))
        if destination:
            with engine.begin() as connection:
                record_destination(connection, account.id, audience_id, str(destination), now)
    return counts, stopped


def _sync(engine: Engine, action: Mapping[str, Any], account: AccountConfig, syncer: AudienceSyncer,
          desired_of: DesiredSource, now: datetime, guard: Callable[[], None]) -> tuple[Counter[str], str | None]:
    to = action["change"].get("to", {})
    segment, audience_id = str(to["segment"]), str(to["audience_id"])
    kinds = MATCHABLE_KINDS.get(platform_of(account), frozenset())
    with engine.connect() as connection:
        desired = desired_of(connection, segment)
    if desired is None:
        return Counter(), "no_segment"
    wanted = frozenset(m for m in desired if m[0] in kinds)
    counts, stopped = _resend_pending(engine, action.get("id"), account, audience_id, syncer, wanted, now, guard)
    if stopped is not None:
        return counts, stopped.error or stopped.status
    with engine.connect() as connection:
        plan = current_plan(connection, account, audience_id, desired)
    if to.get("plan") and plan.digest != to["plan"]:
        return counts, "changed"
    target = target_for(account, audience_id)
    for operation, members in (("remove", plan.removes), ("add", plan.adds)):
        for start in range(0, len(members), syncer.max_batch):
            chunk = members[start:start + syncer.max_batch]
            batch_id = uuid.uuid4().hex
            guard()
            with engine.begin() as connection:  # the intent, committed before anything is sent
                open_batch(connection, batch_id=batch_id, account_id=account.id, platform=syncer.platform,
                           audience_id=audience_id, segment=segment, operation=operation, members=chunk,
                           action_id=action.get("id"), now=now)
            answer = _send(syncer, target, operation, batch_id, chunk)
            counts.update(_settle(engine, batch_id, operation, len(chunk), answer, now))
            if answer.status in ("unknown", "not_permitted"):
                return counts, answer.error or answer.status
    return counts, None


def run_audience_actions(engine: Engine, account: AccountConfig, syncer: AudienceSyncer | None,
                         desired_of: DesiredSource, actions: Sequence[RowMapping | Mapping[str, Any]],
                         clock: Clock, worker: str, count: Callable[[str], None],
                         guard: Callable[[], None] = lambda: None,
                         problem: Callable[[str], None] = lambda _line: None) -> None:
    """Execute claimed `sync_audience` actions and record each one's outcome. `guard` is the kill
    switch's write guard: when it stops a batch, the action goes back to `approved`. `problem` gets
    one line per sync skipped or left unanswered, for the cycle's report."""
    for action in actions:
        if syncer is None:
            transition_retrying(engine, action["id"], "failed", actor=worker, now=clock.now(), expected="executing",
                                reason=f"{platform_of(account)} has no audience sync in this connector")
            count("failed")
            continue
        try:
            counts, stopped = sync_audience(engine, dict(action), account, syncer, desired_of, clock.now(), guard)
        except WritesStopped as stop:
            transition_retrying(engine, action["id"], "approved", actor=worker, now=clock.now(),
                                expected="executing", reason=str(stop))
            count("held")
            continue
        counts = +counts
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing to change"
        if stopped in ("changed", "no_segment") and not counts:
            why = ("the segment changed since this sync was planned" if stopped == "changed"
                   else f"the CRM segment {action['change']['to'].get('segment')!r} is gone")
            transition_retrying(engine, action["id"], "superseded", actor=worker, now=clock.now(),
                                expected="executing", reason=f"{why}; nothing sent, the next sync plans anew")
            count("superseded")
            continue
        if stopped == "changed":  # unanswered batches were settled; the new plan waits for its own approval
            summary += "; the segment changed since approval: the rest is proposed anew"
        elif counts["not_permitted"]:
            summary = f"skipped: {stopped}"
            problem(f"{account.id}: sync_audience {action['change']['to'].get('audience_id')} {summary}")
        elif counts["unknown"]:
            summary += "; no answer for a batch: settled at the next sync under the same batch id"
            problem(f"{account.id}: sync_audience {action['change']['to'].get('audience_id')}: {summary}")
        elif stopped and stopped != "changed":
            summary = f"{summary}; {stopped}"
        transition_retrying(engine, action["id"], "executed", actor=worker, now=clock.now(), expected="executing",
                            reason=summary, result={"ok": not counts["rejected"], "counts": dict(counts)})
        count("executed")


INTERRUPTED = ("interrupted before its answers were recorded; the audience ledger settles it: batches still "
               "`sending` are settled (asked, or re-sent under the same batch id) before anything else by the next "
               "sync, and a lookalike still `creating` is looked up by name before any new attempt")


def settle_interrupted(engine: Engine, action: Mapping[str, Any], clock: Clock, count: Callable[[str], None]
                       ) -> None:
    """A crash left this audience action `executing`: the ledger, not the action, says what was sent."""
    transition_retrying(engine, action["id"], "failed", actor="reconcile", now=clock.now(), expected="executing",
                        reason=INTERRUPTED)
    count("failed")
