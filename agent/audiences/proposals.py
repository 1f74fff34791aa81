"""The `sync_audience` proposal: one per account audience whose segment differs from what it holds
(or whose last batch is still unanswered); agent/audiences/gate.py passes it through the gate.

An action names the segment, the audience, how many members it adds and removes, and the plan's
digest: never a member (the audit trail holds no personal data). agent/audiences/sync.py re-plans
right before sending and sends only the plan that was approved.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from agent.audiences.desired import DesiredSource
from agent.audiences.plan import SyncPlan, plan_sync
from agent.config import AccountConfig
from agent.storage.audience_ledger import audience_summary, member_states, pending_batches
from connectors.audience_members import MATCHABLE_KINDS
from policies.base import Proposal

SYNC_KIND = "sync_audience"


def platform_of(account: AccountConfig) -> str:
    return account.simulate or account.platform if account.platform == "simulator" else account.platform


def current_plan(connection: Connection, account: AccountConfig, audience_id: str,
                 desired: frozenset[tuple[str, str]]) -> SyncPlan:
    kinds = MATCHABLE_KINDS.get(platform_of(account), frozenset())
    return plan_sync(desired, member_states(connection, account.id, audience_id), kinds)


def audience_proposals(engine: Engine, account: AccountConfig, desired_of: DesiredSource, *,
                       retry_refused: bool = False) -> list[Proposal]:
    """A `sync_audience` proposal per configured audience whose segment differs from what it holds.
    An audience whose platform refused the app (`not_permitted`) is left out unless `retry_refused`
    (a person asking again with `audiences sync`)."""
    proposals: list[Proposal] = []
    if not account.audiences:
        return proposals
    with engine.connect() as connection:
        refused = {row["audience_id"] for row in audience_summary(connection, account.id)
                   if row["last_state"] == "not_permitted"}
        for segment, audience_id in sorted(account.audiences.items()):
            desired = desired_of(connection, segment)
            if desired is None or (audience_id in refused and not retry_refused):
                continue  # an unknown segment; or the platform refused the app
            plan = current_plan(connection, account, audience_id, desired)
            unanswered = len(pending_batches(connection, account.id, audience_id))
            if not plan and not unanswered:
                continue
            rationale = (f"keep {platform_of(account)} audience {audience_id} in step with CRM segment "
                         f"{segment!r}: add {len(plan.adds)}, remove {len(plan.removes)}"
                         + (f"; re-send {unanswered} batch(es) whose answer was lost" if unanswered else ""))
            proposals.append(Proposal(
                kind=SYNC_KIND, policy="audience_sync", account_id=account.id, entity_id=audience_id,
                entity_level="account", entity_name=f"{segment} audience",
                change={"from": {}, "to": {"segment": segment, "audience_id": audience_id, "add": len(plan.adds),
                                           "remove": len(plan.removes), "resend": unanswered,
                                           "plan": plan.digest}},
                rationale=rationale,
                evidence={"segment_members": len(desired), "add": len(plan.adds), "remove": len(plan.removes),
                          "unanswered_batches": unanswered}))
    return proposals
