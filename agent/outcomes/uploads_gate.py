"""Right after an import: propose each account's `upload_conversions` and pass it through the gate,
as a cycle would, so an `auto` account's batch is approved at once (and executed by the next
executor run) and a `propose` account's batch is queued for a person without waiting for the cycle."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from agent.config import AgentConfig
from agent.decisions.gate import context_for, decide
from agent.outcomes.uploads import UPLOAD_KIND, upload_proposals
from agent.storage.action_states import create_action, json_ready, open_actions_for, transition


def gate_uploads(engine: Engine, config: AgentConfig, now: datetime, *, dry_run: bool = False) -> dict[str, str]:
    """account id -> the new action's state, or why none was created."""
    states: dict[str, str] = {}
    for account_id in config.outcomes.uploads:
        account = config.account(account_id)
        guardrails = config.guardrail_settings(account)
        for proposal in upload_proposals(engine, account, config, now):
            with engine.begin() as connection:
                open_ones = open_actions_for(connection, account.id, account.id, UPLOAD_KIND,
                                             decided_since=now - timedelta(hours=guardrails.approval_ttl_hours))
                waiting = [a for a in open_ones
                           if a["change"] == json_ready(proposal.change) or a["state"] in ("executing", "unknown")]
                if waiting and not dry_run:
                    states[account.id] = f"already {waiting[0]['state']} (action {waiting[0]['id']})"
                    continue
                for older in open_ones:  # a newer batch holds every still-unsent stage of an older one
                    if not dry_run and older["state"] in ("pending_approval", "approved"):
                        transition(connection, older["id"], "superseded", actor="gate", now=now,
                                   reason="superseded by a newer upload batch after an import")
                decision = decide(proposal, account, config, dry_run=dry_run, settings=guardrails,
                                  ctx=context_for(connection, account, config, now, {}))
                action_id = create_action(connection, proposal, cycle_id=None, permission=decision.permission,
                                          dry_run=dry_run, now=now, key_salt=f"import-{now.isoformat()}")
                transition(connection, action_id, decision.state, actor="gate", reason=decision.reason, now=now,
                           data={"permission": decision.permission, "dry_run": dry_run},
                           expires_at=now + timedelta(hours=guardrails.approval_ttl_hours)
                           if decision.state == "pending_approval" else None)
                states[account.id] = f"{decision.state} (action {action_id})"
    return states
