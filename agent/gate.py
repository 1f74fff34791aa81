"""The permission gate: what happens to a proposal, per account and action kind.

Levels: `observe` (report only), `propose` (queue for a human), `auto` (execute inside the
guardrails). Dry-run forces every level to report-only and records what would have happened.
Defaults are conservative: anything not configured is `propose`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.config import AccountConfig, AgentConfig
from connectors.base import MUTATION_KINDS
from policies.base import Proposal

DEFAULT_PERMISSION = "propose"


@dataclass(frozen=True)
class Decision:
    permission: str
    state: str
    reason: str


def effective_permission(kind: str, account: AccountConfig, config: AgentConfig) -> str:
    """Account setting, else the default setting, else `propose`."""
    return account.permissions.get(kind) or config.defaults.permissions.get(kind) or DEFAULT_PERMISSION


def permission_matrix(config: AgentConfig) -> dict[str, dict[str, str]]:
    """account id -> action kind -> effective level, as `config check` shows it."""
    return {
        account.id: {kind: effective_permission(kind, account, config) for kind in MUTATION_KINDS}
        for account in config.accounts
    }


def decide(proposal: Proposal, account: AccountConfig, config: AgentConfig, *, dry_run: bool) -> Decision:
    permission = effective_permission(proposal.kind, account, config)
    if dry_run:
        would = {"observe": "reported", "propose": "queued for approval", "auto": "executed"}[permission]
        return Decision(permission, "reported", f"dry-run: would have {would} (permission {permission})")
    if permission == "observe":
        return Decision(permission, "reported", "permission observe: reported only")
    return Decision(permission, "pending_approval", f"permission {permission}: queued for approval")
