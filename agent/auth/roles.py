"""What a principal (a signed-in person, a machine token) may see and decide.

Roles: a viewer sees; an approver also decides, but only for accounts whose configured approvers
(`approvals.accounts.<id>.email_approvers`, the same list email approvals use) include their email;
an admin sees and decides everything. A user created with `--account` sees only those accounts.
Machine tokens see everything and decide nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from agent.approvals.settings import ApprovalSettings

Role = Literal["viewer", "approver", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
PrincipalKind = Literal["user", "token", "insecure"]


@dataclass(frozen=True)
class Principal:
    """Who is asking: `name` is the email of a user, the configured name of a token."""

    name: str
    kind: PrincipalKind
    role: Role
    accounts: tuple[str, ...] = ()  # empty: every account

    @property
    def label(self) -> str:
        """How the audit trail names them (`web:alice@example.com`, `token:prometheus`)."""
        return f"{'web' if self.kind == 'user' else self.kind}:{self.name}"


def can_view(principal: Principal, account_id: str) -> bool:
    return principal.role == "admin" or not principal.accounts or account_id in principal.accounts


def can_view_all(principal: Principal) -> bool:
    """Cross-account pages (metrics, totals) need this."""
    return principal.role == "admin" or not principal.accounts


def visible_accounts(principal: Principal, account_ids: Iterable[str]) -> list[str]:
    return [account_id for account_id in account_ids if can_view(principal, account_id)]


def can_approve(principal: Principal, account_id: str, approvals: ApprovalSettings) -> bool:
    """May `principal` approve or reject actions of `account_id`?

    Only signed-in people decide. An admin decides everywhere; an approver where the account's
    configured email approvers include their address (and the account is among theirs, when limited).
    """
    if principal.kind != "user":
        return False
    if principal.role == "admin":
        return True
    if principal.role != "approver" or not can_view(principal, account_id):
        return False
    route = approvals.for_account(account_id)
    return route is not None and principal.name.lower() in route.email_approvers
