"""The `segment_metrics` table: ad-set delivery by breakdown segment, one row per (ad set, day,
dimension, segment), and the reads the segment report needs.

A pull replaces the days it read for each dimension it read (segments that a restatement drops,
such as a LinkedIn value that fell under the privacy threshold, must not linger), in the same
transaction as the ad sets' own metrics; dimensions whose report failed keep what was stored.
Money is integer micros (`agent.models.Money`) with the currency beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Index,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    type_coerce,
)

from agent.storage.bulk_writes import chunk_rows, chunks, day_value, moment_value, raw_upsert
from agent.storage.models import MICROS, MONEY, NAMING_CONVENTION, EntityRecord, to_micros
from connectors.records import SegmentRow

SEGMENTS_METADATA = MetaData(naming_convention=NAMING_CONVENTION)

segment_metrics = Table(
    "segment_metrics", SEGMENTS_METADATA,
    Column("platform", String(64), primary_key=True),
    Column("account_id", String(128), primary_key=True),
    Column("entity_id", String(255), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("dimension", String(32), primary_key=True),
    Column("segment", String(128), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("spend", MONEY, nullable=False),
    Column("impressions", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
    Column("conversions", Float, nullable=False),
    Column("conversion_value", MONEY, nullable=False),
    Column("pulled_at", DateTime(timezone=True), nullable=False),
    Index("ix_segment_metrics_account_dimension_day", "account_id", "dimension", "day"),
)


SEGMENT_COLUMNS = ("platform", "account_id", "entity_id", "day", "dimension", "segment", "currency", "spend",
                   "impressions", "clicks", "conversions", "conversion_value", "pulled_at")
SEGMENT_KEYS = ("platform", "account_id", "entity_id", "day", "dimension", "segment")


def replace_segments(connection: Connection, account_id: str, dimensions: Collection[str], start: date, end: date,
                     rows: Iterable[SegmentRow], now: datetime) -> int:
    """Store `rows` as the account's segments of `dimensions` over `start..end` (what was there is
    replaced), written from plain tuples at the driver's speed (agent/storage/bulk_writes.py): every
    pull stores its breakdowns, and SQLAlchemy's per-row parameters were most of that time."""
    if not dimensions:
        return 0
    connection.execute(_DELETE_SEGMENTS, {"b_account": account_id, "b_dimensions": sorted(dimensions),
                                          "b_start": start, "b_end": end})
    day, pulled_at = day_value(connection), moment_value(connection, now)
    count = 0
    wanted = (r for r in rows if r.dimension in dimensions and start <= r.day <= end)
    for chunk in chunks(wanted, chunk_rows(connection)):
        values = [(r.platform, r.account_id, r.entity_id, day(r.day), r.dimension, r.segment, r.currency,
                   to_micros(r.spend), r.impressions, r.clicks, r.conversions, to_micros(r.conversion_value),
                   pulled_at) for r in chunk]
        raw_upsert(connection, "segment_metrics", SEGMENT_COLUMNS, SEGMENT_KEYS, values)
        count += len(values)
    return count


# built once (every pull of every account stores its breakdowns): no statement building per call
_DELETE_SEGMENTS = delete(segment_metrics).where(
    segment_metrics.c.account_id == bindparam("b_account"),
    segment_metrics.c.dimension.in_(bindparam("b_dimensions", expanding=True)),
    segment_metrics.c.day >= bindparam("b_start"), segment_metrics.c.day <= bindparam("b_end"))


@dataclass(frozen=True)
class SegmentTotal:
    """One campaign's delivery in one segment over a window."""

    account_id: str
    campaign_id: str
    campaign_name: str
    dimension: str
    segment: str
    currency: str
    spend: Decimal
    conversions: float
    conversion_value: Decimal
    days: int
    exposure: float  # spend weighted by each day's conversion completeness


def segment_totals(connection: Connection, start: date, end: date, account_ids: Sequence[str] | None = None,
                   dimension: str | None = None,
                   completeness: Callable[[str, date], float] = lambda _account, _day: 1.0) -> list[SegmentTotal]:
    """Per account, campaign, dimension and segment: delivery summed over `start..end`, with the spend
    weighted by `completeness(account, day)` (the share of the day's conversions already reported)."""
    s, e = segment_metrics.c, EntityRecord.__table__.c
    campaigns = EntityRecord.__table__.alias("campaign")
    query = (
        select(s.account_id, e.parent_id, func.max(campaigns.c.name), s.dimension, s.segment, func.max(s.currency),
               s.day, func.sum(s.spend), func.sum(s.conversions), func.sum(s.conversion_value))
        .select_from(segment_metrics.join(EntityRecord.__table__, and_(
            e.account_id == s.account_id, e.entity_id == s.entity_id))
            .outerjoin(campaigns, and_(campaigns.c.account_id == s.account_id, campaigns.c.entity_id == e.parent_id)))
        .where(s.day >= start, s.day <= end)
        .group_by(s.account_id, e.parent_id, s.dimension, s.segment, s.day)
        .order_by(s.account_id, e.parent_id, s.dimension, s.segment)
    )
    if account_ids:
        query = query.where(s.account_id.in_(list(account_ids)))
    if dimension:
        query = query.where(s.dimension == dimension)
    found: dict[tuple[str, str, str, str], SegmentTotal] = {}
    for account, campaign, name, dim, segment, currency, day, spend, conversions, value in connection.execute(query):
        key = (account, str(campaign), dim, segment)
        seen = found.get(key) or SegmentTotal(account, str(campaign), name or str(campaign), dim, segment, currency,
                                              Decimal(0), 0.0, Decimal(0), 0, 0.0)
        day_spend = _money(spend)
        found[key] = replace(seen, spend=seen.spend + day_spend, conversions=seen.conversions + float(conversions or 0),
                             conversion_value=seen.conversion_value + _money(value),
                             days=seen.days + (1 if day_spend > 0 else 0),
                             exposure=seen.exposure + float(day_spend) * completeness(account, day))
    return list(found.values())


def _money(value: object) -> Decimal:
    """A summed Money column: Decimal already, or integer micros where the driver lost the type."""
    if isinstance(value, Decimal):
        return value
    return Decimal(int(value or 0)) / MICROS  # type: ignore[call-overload]


def stored_dimensions(connection: Connection) -> list[str]:
    return [row[0] for row in connection.execute(select(segment_metrics.c.dimension).distinct()
                                                 .order_by(segment_metrics.c.dimension))]


def load_segment_rows(connection: Connection, account_id: str, start: date, end: date,
                      dimensions: Collection[str]) -> list[SegmentRow]:
    """The account's stored segment rows of `dimensions` over `start..end`."""
    s = segment_metrics.c
    query = select(*_SEGMENT_ROW_COLUMNS).where(s.account_id == account_id, s.day >= start, s.day <= end,
                                                s.dimension.in_(sorted(dimensions)))
    # the columns in SegmentRow's field order (BigInteger and Float come back as int and float)
    return [SegmentRow(*row) for row in connection.execute(query)]


_SEGMENT_ROW_COLUMNS = [segment_metrics.c[f.name] for f in fields(SegmentRow)]


class SegmentTotals(NamedTuple):
    """One segment's delivery summed over a window, for one ad set (or one campaign)."""

    key: str  # the ad set's id; the campaign's with `by_campaign`
    dimension: str
    segment: str
    spend: Decimal
    weighted_spend: float  # each day's spend times its weight, summed
    conversions: float
    conversion_value: Decimal
    clicks: int
    impressions: int
    days_with_spend: int
    first_day: date


def load_segment_totals(connection: Connection, account_id: str, start: date, end: date,
                        dimensions: Collection[str], day_weights: Mapping[date, float], *,
                        by_campaign: bool = False) -> list[SegmentTotals]:
    """The account's segments of `dimensions` summed over `start..end` per (ad set, dimension, segment),
    or with `by_campaign` per (campaign, dimension, segment) over the campaign's stored ad sets (an ad
    set no longer among the entities counts for none). `day_weights` weighs each day's spend (1 for a
    day it leaves out). Summed by the database: the policies read windows, and building every day's
    row in Python was most of an hourly cycle's segment work."""
    if not dimensions:
        return []
    s, e = segment_metrics.c, EntityRecord.__table__.c
    key = e.parent_id if by_campaign else s.entity_id
    weight = case({day: float(w) for day, w in day_weights.items()}, value=s.day,
                  else_=literal(1.0)) if day_weights else literal(1.0)
    query = select(
        key, s.dimension, s.segment,
        func.sum(s.spend),
        type_coerce(func.sum(type_coerce(s.spend, BigInteger) * weight), Float),  # in micros
        type_coerce(func.sum(s.conversions), Float),
        func.sum(s.conversion_value),
        type_coerce(func.sum(s.clicks), BigInteger),
        type_coerce(func.sum(s.impressions), BigInteger),
        func.count(func.distinct(case((s.spend > 0, s.day)))),
        func.min(s.day),  # a date on both databases (the column's type)
    ).where(s.account_id == account_id, s.day >= start, s.day <= end, s.dimension.in_(sorted(dimensions)))
    if by_campaign:
        query = query.join_from(segment_metrics, EntityRecord.__table__,
                                and_(e.account_id == s.account_id, e.entity_id == s.entity_id)
                                ).where(e.parent_id.is_not(None))
    query = query.group_by(key, s.dimension, s.segment)
    return [SegmentTotals(str(k), dimension, segment, _money(spend), float(weighted or 0.0) / 1e6,
                          float(conversions or 0.0), _money(value), int(clicks or 0), int(impressions or 0), int(days),
                          first)
            for k, dimension, segment, spend, weighted, conversions, value, clicks, impressions, days, first
            in connection.execute(query)]
