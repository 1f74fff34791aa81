"""The protocol every connector implements: the I/O edge between the agent and an ad platform.

The records a connector returns (`Entity`, `MetricRow`, `Mutation`, ...) are plain data in
`connectors/records.py`; this module holds only what talks to a platform.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol, runtime_checkable

from connectors import records


@runtime_checkable
class Connector(Protocol):
    """What the agent needs from an ad platform. Implementations talk to the platform only."""

    platform: str

    def accounts(self) -> Sequence[records.AccountInfo]:
        """The accounts this connector can see."""
        ...

    def entities(self, account_id: str, entity_ids: Sequence[str] | None = None) -> Sequence[records.Entity]:
        """Live entities of an account (all, or just `entity_ids`), read now: used for drift checks."""
        ...

    def daily_metrics(self, account_id: str, start: date, end: date) -> Iterable[records.MetricRow]:
        """Daily ad-set and ad rows for `start..end` inclusive, in the account's time zone."""
        ...

    def search_terms(self, account_id: str, start: date, end: date) -> Iterable[records.SearchTermRow]:
        """Search-term report rows (Google Ads); other platforms return nothing."""
        ...

    def audiences(self, account_id: str) -> Sequence[records.Audience]:
        """Audiences targeted in the account."""
        ...

    def estimate_reach(self, account_id: str, audience_ids: Sequence[str]) -> int | None:
        """Estimated people reached by the union of `audience_ids` (for overlap estimates); None
        when the platform cannot tell (never stored as a reach)."""
        ...

    def apply(self, account_id: str, mutations: Sequence[records.Mutation]) -> Sequence[records.MutationResult]:
        """Apply a batch of mutations for one account; one result per mutation, in order."""
        ...


@runtime_checkable
class AccountInfoReader(Protocol):
    """Optional: a connector that can describe one account without reading the others'.

    `Connector.accounts()` reads every configured account, one request each; a connector that also
    has `account_info` lets the agent read each account's info in the thread that pulls it, instead
    of all of a platform's, one after another, before any account starts.
    """

    def account_info(self, account_id: str) -> records.AccountInfo:
        """The account as the platform describes it (cached by the connector like `accounts()`)."""
        ...


@runtime_checkable
class SizedAudiences(Protocol):
    """Optional: a connector whose audience read gives each audience's reach for the same location as
    `estimate_reach` would (both without one), so a single audience needs no estimate of its own."""

    def audience_size_is_reach(self) -> bool:
        """True when `Audience.estimated_size` can stand for `estimate_reach(account, [audience])`."""
        ...
