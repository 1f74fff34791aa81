"""The records every layer shares: what a connector returns, what a policy reads, what the
executor applies, and the money helpers they all round with.

Pure data: this module imports nothing else of ours (and no platform SDK), so `policies/` can
depend on it without depending on the connectors' I/O. The `Connector` protocol that produces these
records lives in `connectors/base.py`.

Platform names (ad group, ad set, LinkedIn campaign) are translated at the edge: past
`connectors/` the code sees `campaign`, `ad_set`, `ad` and `keyword`. Money is `Decimal` in
the account's currency; days are the account's own calendar days. One list of currencies without
a minor unit, so a connector converting a platform's minor units, the simulator making budgets and
a policy rounding a proposal all agree on what "one cent" is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Literal, get_args

Level = Literal["campaign", "ad_set", "ad", "keyword"]
Status = Literal["ACTIVE", "PAUSED", "REMOVED"]
MutationKind = Literal[
    "pause",
    "enable",
    "set_budget",
    "add_negative_keywords",
    "exclude_audience",
    "remove_audience_exclusion",
    "new_ad",
    "upload_conversions",
    "sync_audience",
    "create_lookalike",
    "add_label",
    "remove_label",
    "set_ad_schedule",
    "set_device_bid_modifier",
    "exclude_placement",
    "exclude_company_size",
    "exclude_seniority",
    "exclude_industry",
    "narrow_age_range",
    "exclude_region",
    "exclude_age_range",
    "exclude_gender",
    "exclude_location",
    "exclude_job_function",
    "set_ad_rotation",
]
MUTATION_KINDS: tuple[str, ...] = get_args(MutationKind)  # the kinds, in order, from the one list
# Google ad group ad rotations (AdGroupAdRotationModeEnum) a `set_ad_rotation` may ask for: the platform's
# default, which serves the ads it expects to do better more, and even rotation.
OPTIMIZE, ROTATE_FOREVER = "OPTIMIZE", "ROTATE_FOREVER"
AD_ROTATIONS: tuple[str, ...] = (OPTIMIZE, ROTATE_FOREVER)


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


# ISO 4217 currencies without a minor unit, and those ad platforms bill without one (HUF, TWD on Meta).
ZERO_DECIMAL_CURRENCIES: frozenset[str] = frozenset(
    {"JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "HUF", "TWD"}
)


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point in `currency` (2, or 0 for JPY/KRW and the like)."""
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency`: 0.01, or 1 for zero-decimal currencies."""
    return Decimal(1).scaleb(-minor_unit_exponent(currency))


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def floor_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded down to the minor unit (so a capped move never exceeds its cap)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_FLOOR)


@dataclass(frozen=True)
class SegmentRow:
    """One ad set's delivery on one day within one segment of a breakdown (`dimension`), in our own
    names (`connectors/segments.py`): e.g. dimension "age", segment "18-24". The segments of an ad set,
    day and dimension sum to its `MetricRow`; what the platform leaves out is the segment "unknown"."""

    platform: str
    account_id: str
    entity_id: str
    day: date
    dimension: str
    segment: str
    currency: str
    spend: Decimal
    impressions: int
    clicks: int
    conversions: float
    conversion_value: Decimal
