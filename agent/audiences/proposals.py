"""The `sync_audience` proposal: one per account audience whose segment differs from what it holds,
and its passage through the permission gate (as a cycle would, so `auto` runs at the next executor
run and `propose` waits for a person).

An action names the segment, the audience, how many members it adds and removes, and the plan's
digest: never a member (the audit trail holds no personal data). agent/audiences/sync.py re-plans
right before sending and sends only the plan that was approved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from agent.audiences.desired import DesiredSource
from agent.audiences.plan import SyncPlan, plan_sync
from agent.config import AccountConfig, AgentConfig
from agent.decisions.gate import context_for, decide
from agent.storage.action_states import create_action, json_ready, open_actions_for, transition
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


def audience_proposals(engine: Engine, account: AccountConfig, desired_of: DesiredSource) -> list[Proposal]:
    """A `sync_audience` proposal per configured audience whose segment differs from what it holds."""
    proposals: list[Proposal] = []
    with engine.connect() as connection:
        refused = {row["audience_id"] for row in audience_summary(connection, account.id)
                   if row["last_state"] == "not_permitted"}
        for segment, audience_id in sorted(account.audiences.items()):
            desired = desired_of(connection, segment)
            if desired is None or audience_id in refused:
                continue  # an unknown segment; or the platform refused the app (re-run by `audiences sync`)
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


def gate_audience_syncs(engine: Engine, config: AgentConfig, now: datetime, desired_of: DesiredSource, *,
                        dry_run: bool = False, account_ids: tuple[str, ...] = ()) -> dict[str, str]:
    """Propose and gate each account audience's sync; "account/audience" -> the new action's state."""
    states: dict[str, str] = {}
    for account in config.accounts:
        if not account.audiences or (account_ids and account.id not in account_ids):
            continue
        guardrails = config.guardrail_settings(account)
        for proposal in audience_proposals(engine, account, desired_of):
            name = f"{account.id}/{proposal.entity_id}"
            with engine.begin() as connection:
                open_ones = open_actions_for(connection, account.id, proposal.entity_id, SYNC_KIND,
                                             decided_since=now - timedelta(hours=guardrails.approval_ttl_hours))
                waiting = [a for a in open_ones
                           if a["change"] == json_ready(proposal.change) or a["state"] in ("executing", "unknown")]
                if waiting and not dry_run:
                    states[name] = f"already {waiting[0]['state']} (action {waiting[0]['id']})"
                    continue
                for older in open_ones:  # a newer plan replaces an older one not yet run
                    if not dry_run and older["state"] in ("pending_approval", "approved"):
                        transition(connection, older["id"], "superseded", actor="gate", now=now,
                                   reason="superseded by a newer audience sync plan")
                decision = decide(proposal, account, config, dry_run=dry_run, settings=guardrails,
                                  ctx=context_for(connection, account, config, now, {}))
                salt = f"audience-{'dry-' if dry_run else ''}{now.isoformat()}"
                action_id = create_action(connection, proposal, cycle_id=None, permission=decision.permission,
                                          dry_run=dry_run, now=now, key_salt=salt)
                transition(connection, action_id, decision.state, actor="gate", reason=decision.reason, now=now,
                           data={"permission": decision.permission, "dry_run": dry_run},
                           expires_at=now + timedelta(hours=guardrails.approval_ttl_hours)
                           if decision.state == "pending_approval" else None)
                states[name] = f"{decision.state} (action {action_id})"
    return states
