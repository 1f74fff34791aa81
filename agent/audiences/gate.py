"""Audience actions through the permission gate, as a cycle would pass them (so `auto` runs at the
next executor run, `propose` waits for a person, `observe` and dry-run only report): used by
`audiences sync`; the cycle adds the same proposals to its own (agent/cycle/account_turn.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from agent.audiences.desired import DesiredSource
from agent.audiences.lookalikes import lookalike_proposals
from agent.audiences.proposals import SYNC_KIND, audience_proposals
from agent.config import AgentConfig
from agent.decisions.gate import context_for, decide
from agent.storage.action_states import create_action, json_ready, open_actions_for, transition


def gate_audience_syncs(engine: Engine, config: AgentConfig, now: datetime, desired_of: DesiredSource, *,
                        dry_run: bool = False, account_ids: tuple[str, ...] = (), retry_refused: bool = False
                        ) -> dict[str, str]:
    """Propose and gate each account audience's sync and lookalike; "account/audience[ kind]" -> the new
    action's state."""
    states: dict[str, str] = {}
    for account in config.accounts:
        if not account.audiences or (account_ids and account.id not in account_ids):
            continue
        guardrails = config.guardrail_settings(account)
        proposals = audience_proposals(engine, account, desired_of, retry_refused=retry_refused)
        for proposal in proposals + lookalike_proposals(engine, account):
            name = f"{account.id}/{proposal.entity_id}" + ("" if proposal.kind == SYNC_KIND else f" {proposal.kind}")
            with engine.begin() as connection:
                open_ones = open_actions_for(connection, account.id, proposal.entity_id, proposal.kind,
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
