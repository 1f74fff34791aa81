"""Who may decide: a viewer never; an approver for accounts listing their email; an admin always."""

from __future__ import annotations

from agent.approvals.settings import AccountApprovals, ApprovalSettings
from agent.auth.roles import Principal, can_approve, can_view, can_view_all, visible_accounts

APPROVALS = ApprovalSettings.model_construct(
    slack=None, email=None, default=None,
    accounts={"shop-meta": AccountApprovals(email_approvers=("alice@example.com",)),
              "shop-search": AccountApprovals(email_approvers=("bob@example.com",))})


def user(name: str, role: str, accounts: tuple[str, ...] = ()) -> Principal:
    return Principal(name=name, kind="user", role=role, accounts=accounts)  # type: ignore[arg-type]


def test_a_viewer_cannot_approve_even_when_listed_as_approver() -> None:
    viewer = user("alice@example.com", "viewer")
    assert can_view(viewer, "shop-meta")
    assert not can_approve(viewer, "shop-meta", APPROVALS)


def test_an_approver_decides_only_for_accounts_listing_their_email() -> None:
    alice = user("alice@example.com", "approver")
    assert can_approve(alice, "shop-meta", APPROVALS)
    assert not can_approve(alice, "shop-search", APPROVALS)
    assert not can_approve(alice, "unknown", APPROVALS)
    limited = user("alice@example.com", "approver", accounts=("shop-search",))
    assert not can_approve(limited, "shop-meta", APPROVALS)  # listed, but not among the user's accounts


def test_an_admin_decides_everywhere_and_tokens_nowhere() -> None:
    assert can_approve(user("root@example.com", "admin"), "shop-search", APPROVALS)
    token = Principal(name="prometheus", kind="token", role="viewer")
    insecure = Principal(name="anonymous", kind="insecure", role="admin")
    assert not can_approve(token, "shop-meta", APPROVALS)
    assert not can_approve(insecure, "shop-meta", APPROVALS)


def test_accounts_limit_what_a_user_sees() -> None:
    limited = user("carol@example.com", "viewer", accounts=("shop-meta",))
    assert visible_accounts(limited, ["shop-meta", "shop-search"]) == ["shop-meta"]
    assert not can_view_all(limited)
    assert can_view_all(user("carol@example.com", "viewer"))
