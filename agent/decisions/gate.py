"""The permission gate: what happens to a proposal, per account and action kind.

Levels: `observe` (report only), `propose` (queue for a human), `auto` (execute inside the
guardrails). Defaults are conservative: anything not configured is `propose`. Dry-run forces every
level to report-only and records what would have happened.

Guardrails come first: a proposal that would break a hard limit is rejected with the reason; one
that needs a human's eye (low confidence, too many actions this cycle, a freeze window, the kill
switch) is downgraded from `auto` to `propose`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection

from agent.config import AccountConfig, AgentConfig
from agent.decisions.guardrails import GuardrailContext, check
from agent.settings import GuardrailSettings
from agent.storage import flags
from agent.storage.action_states import executed_history
from connectors.records import MUTATION_KINDS, Entity
from policies.base import Proposal
from policies.budget_plan import plan_of

DEFAULT_PERMISSION = "propose"
# Resolving several proposals for one entity in one cycle: the lowest rank wins. Stopping spend
# is the safest move, then the lower of two budgets.
KIND_PRIORITY = {"pause": 0, "set_budget": 1, "enable": 2}


@dataclass(frozen=True)
class Decision:
    permission: str
    state: str
    reason: str
    rules: tuple[str, ...] = ()  # the guardrails that shaped the decision


def effective_permission(kind: str, account: AccountConfig, config: AgentConfig) -> str:
    """Account setting, else the default setting, else `propose`."""
    return account.permissions.get(kind) or config.defaults.permissions.get(kind) or DEFAULT_PERMISSION


def kinds_on_auto(account: AccountConfig, config: AgentConfig) -> frozenset[str]:
    """The action kinds that run for this account without waiting for anyone: what a policy may
    count on another policy's proposal doing (`policies.evaluate(..., executes=...)`)."""
    return frozenset(kind for kind in MUTATION_KINDS if effective_permission(kind, account, config) == "auto")


def permission_matrix(config: AgentConfig) -> dict[str, dict[str, str]]:
    """account id -> action kind -> effective level, as `config check` shows it."""
    return {
        account.id: {kind: effective_permission(kind, account, config) for kind in MUTATION_KINDS}
        for account in config.accounts
    }


def _budget_to(proposal: Proposal) -> Decimal:
    return Decimal(str(proposal.change.get("to", {}).get("daily_budget", "Infinity")))


def resolve_conflicts(proposals: Sequence[Proposal]) -> tuple[list[Proposal], list[tuple[Proposal, str]]]:
    """One state-changing proposal per entity: a pause beats a budget change, a lower budget beats a
    higher one. Returns (winners, [(loser, reason)]). Kinds outside the priority list coexist. A
    budget plan (policies/budget_plan.py) that loses one leg loses all of them: its other legs
    alone would change the account's total."""
    lost_plans: dict[str, str] = {}
    while True:
        winners, losers = _one_per_entity([p for p in proposals if plan_of(p.evidence) not in lost_plans])
        newly = {plan_of(loser.evidence): f"its budget plan lost the leg on {loser.entity_id} ({reason})"
                 for loser, reason in losers if plan_of(loser.evidence) is not None}
        if not newly:
            break
        lost_plans.update({plan: why for plan, why in newly.items() if plan is not None})
    losers += [(p, lost_plans[plan]) for p in proposals
               if (plan := plan_of(p.evidence)) is not None and plan in lost_plans]
    return winners, losers


def _one_per_entity(proposals: Sequence[Proposal]) -> tuple[list[Proposal], list[tuple[Proposal, str]]]:
    by_entity: dict[tuple[str, str], list[Proposal]] = defaultdict(list)
    winners: list[Proposal] = []
    for proposal in proposals:
        if proposal.kind in KIND_PRIORITY:
            by_entity[(proposal.account_id, proposal.entity_id)].append(proposal)
        else:
            winners.append(proposal)
    losers: list[tuple[Proposal, str]] = []
    for group in by_entity.values():
        ranked = sorted(group, key=lambda p: (KIND_PRIORITY[p.kind], _budget_to(p)))
        winners.append(ranked[0])
        for other in ranked[1:]:
            losers.append((other, f"superseded in the same cycle by {ranked[0].kind} from {ranked[0].policy}"))
    return winners, losers


def context_for(connection: Connection, account: AccountConfig, config: AgentConfig, now: datetime,
                entities: Mapping[str, Entity]) -> GuardrailContext:
    """The guardrail context of one account now: its recent executed changes and the kill switch."""
    return GuardrailContext(
        now=now, timezone=account.timezone, entities=entities,
        history=executed_history(connection, account.id, now),
        protected=frozenset(account.protected_entities),
        kill_switch=config.kill_switch or flags.flag_enabled(connection, flags.KILL_SWITCH),
    )


def decide(
    proposal: Proposal,
    account: AccountConfig,
    config: AgentConfig,
    *,
    dry_run: bool,
    settings: GuardrailSettings,
    ctx: GuardrailContext,
) -> Decision:
    permission = effective_permission(proposal.kind, account, config)
    if proposal.kind not in MUTATION_KINDS:
        return Decision("observe", "reported", f"{proposal.kind} is a recommendation for people: reported")
    violations = check(kind=proposal.kind, entity_id=proposal.entity_id, change=proposal.change,
                       evidence=proposal.evidence, policy=proposal.policy, settings=settings, ctx=ctx)
    rules = tuple(v.rule for v in violations)
    blocking = "; ".join(v.message for v in violations if v.severity == "block")
    softer = "; ".join(v.message for v in violations if v.severity != "block")
    if dry_run:
        if blocking:
            return Decision(permission, "reported", f"dry-run: would have rejected it: {blocking}")
        would = {"observe": "reported it", "propose": "queued it for approval", "auto": "executed it"}[permission]
        if permission == "auto" and softer:
            would = f"queued it for approval ({softer})"
        return Decision(permission, "reported", f"dry-run: would have {would} (permission {permission})")
    if blocking:
        return Decision(permission, "rejected", f"guardrail: {blocking}",
                        tuple(v.rule for v in violations if v.severity == "block"))
    if permission == "observe":
        return Decision(permission, "reported", "permission observe: reported only")
    if permission == "auto":
        if softer:
            return Decision(permission, "pending_approval", f"auto downgraded to approval: {softer}", rules)
        return Decision(permission, "approved", "permission auto: within guardrails, approved for execution")
    return Decision(permission, "pending_approval", "permission propose: queued for approval")
