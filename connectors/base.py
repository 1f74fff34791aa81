"""The one shape every connector speaks, and the protocol they all implement.

Platform names (ad group, ad set, LinkedIn campaign) are translated at the edge: past
`connectors/` the code sees `campaign`, `ad_set`, `ad` and `keyword`. Money is `Decimal` in
the account's currency; days are the account's own calendar days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

Level = Literal["campaign", "ad_set", "ad", "keyword"]
Status = Literal["ACTIVE", "PAUSED", "REMOVED"]
MutationKind = Literal[
    "pause",
    "enable",
    "set_budget",
    "add_negative_keywords",
    "exclude_audience",
    "new_ad",
]
MUTATION_KINDS: tuple[str, ...] = (
    "pause",
    "enable",
    "set_budget",
    "add_negative_keywords",
    "exclude_audience",
    "new_ad",
)


class ConnectorError(Exception):
    """A platform call failed in a way the caller should report (names the account)."""


class MalformedPayload(ConnectorError):
    """A platform answered with data we cannot parse; the record is skipped, the cycle goes on."""


@dataclass(frozen=True)
class AccountInfo:
    """An ad account as the platform describes it."""

    platform: str
    account_id: str
    name: str
    currency: str
    timezone: str


@dataclass(frozen=True)
class Entity:
    """A campaign, ad set (ad group), ad or keyword, with its live settings.

    `daily_budget` is set on whichever level holds the budget on that platform (Google: the
    campaign; Meta and LinkedIn: the ad set). `attributes` carries level-specific data such as
    an ad's creative text, an ad set's audience ids or a keyword's match type.
    """

    platform: str
    account_id: str
    level: Level
    entity_id: str
    parent_id: str | None
    name: str
    status: Status
    currency: str
    daily_budget: Decimal | None = None
    learning: bool = False
    last_changed: date | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricRow:
    """One entity's delivery on one day, as the platform reports it on the day it is pulled."""

    platform: str
    account_id: str
    level: Level
    entity_id: str
    day: date
    currency: str
    spend: Decimal
    impressions: int
    clicks: int
    conversions: float
    conversion_value: Decimal
    reach: int | None = None


@dataclass(frozen=True)
class SearchTermRow:
    """A Google Ads search-term report line: what users typed that triggered an ad group."""

    account_id: str
    campaign_id: str
    ad_group_id: str
    day: date
    search_term: str
    impressions: int
    clicks: int
    spend: Decimal
    conversions: float
    conversion_value: Decimal


@dataclass(frozen=True)
class Audience:
    """A targetable audience and the platform's estimate of its size."""

    account_id: str
    audience_id: str
    name: str
    estimated_size: int


@dataclass(frozen=True)
class Mutation:
    """One change to apply. `idempotency_key` makes a retried apply a no-op on the platform side
    (or, where the platform has no such key, lets the connector detect an earlier application)."""

    kind: MutationKind
    account_id: str
    entity_id: str
    params: Mapping[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class MutationResult:
    """The platform's answer to one mutation."""

    idempotency_key: str
    ok: bool
    platform_ref: str | None = None
    error: str | None = None
    already_applied: bool = False
    # not ok, and nothing says it was not applied (timeout, lost answer, 5xx): settle by reading the platform
    outcome_unknown: bool = False
    # not ok, and certainly not sent (stopped by the write guard before the request): may run later
    not_sent: bool = False


@runtime_checkable
class Connector(Protocol):
    """What the agent needs from an ad platform. Implementations talk to the platform only."""

    platform: str

    def accounts(self) -> Sequence[AccountInfo]:
        """The accounts this connector can see."""
        ...

    def entities(self, account_id: str, entity_ids: Sequence[str] | None = None) -> Sequence[Entity]:
        """Live entities of an account (all, or just `entity_ids`), read now: used for drift checks."""
        ...

    def daily_metrics(self, account_id: str, start: date, end: date) -> Iterable[MetricRow]:
        """Daily ad-set and ad rows for `start..end` inclusive, in the account's time zone."""
        ...

    def search_terms(self, account_id: str, start: date, end: date) -> Iterable[SearchTermRow]:
        """Search-term report rows (Google Ads); other platforms return nothing."""
        ...

    def audiences(self, account_id: str) -> Sequence[Audience]:
        """Audiences targeted in the account."""
        ...

    def estimate_reach(self, account_id: str, audience_ids: Sequence[str]) -> int | None:
        """Estimated people reached by the union of `audience_ids` (for overlap estimates); None
        when the platform cannot tell (never stored as a reach)."""
        ...

    def apply(self, account_id: str, mutations: Sequence[Mutation]) -> Sequence[MutationResult]:
        """Apply a batch of mutations for one account; one result per mutation, in order."""
        ...


@runtime_checkable
class AccountInfoReader(Protocol):
    """Optional: a connector that can describe one account without reading the others'.

    `Connector.accounts()` reads every configured account, one request each; a connector that also
    has `account_info` lets the agent read each account's info in the thread that pulls it, instead
    of all of a platform's, one after another, before any account starts.
    """

    def account_info(self, account_id: str) -> AccountInfo:
        """The account as the platform describes it (cached by the connector like `accounts()`)."""
        ...
