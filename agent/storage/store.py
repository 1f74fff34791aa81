"""What the agent pulled: accounts, entities, daily metrics, search terms, audiences, reach estimates
and conversion revisions, written in bulk and read back per account (plus the engine itself).

The other tables have their own storage modules: agent/storage/audit_trail.py, agent/storage/cycle_records.py,
agent/storage/flags.py, agent/storage/action_queries.py and agent/storage/action_states.py (the actions' state machine).

Ingestion is bulk (`INSERT ... ON CONFLICT DO UPDATE` in chunks through SQLAlchemy Core), keyed by
(platform, account, entity, day) so that re-pulling a look-back window overwrites restated days
and never duplicates a row. The same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, RowMapping, Table, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from agent.storage.bulk_writes import (
    CHUNK_ROWS,
    chunk_rows,
    chunks,
    day_value,
    moment_value,
    raw_upsert,
    stored_day,
)
from agent.storage.models import (
    Account,
    AudienceRecord,
    ConversionRevisionRecord,
    DailyMetric,
    EntityRecord,
    ReachEstimate,
    from_micros,
    to_micros,
)
from connectors.records import AccountInfo, Audience, Entity, MetricRow, SearchTermRow
from policies.base import ConversionRevision

RECONNECT_SECONDS = 8.0  # as agent/db_retry.RETRY_SECONDS
REVISION_HORIZON_DAYS = 35  # restatements stop after 28 days; keep a margin

SQLITE_BUSY_SECONDS = 30.0  # how long SQLite lets a writer wait for the write lock before "database is locked"
# One lock per SQLite engine: the pulls' writes queue here (agent/cycle/account_pull.py), see `one_writer`.
_SQLITE_WRITERS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
POOL_OVERFLOW = 10  # connections opened beyond the pool's size when every pooled one is in use


def make_engine(database_url: str, *, pool_timeout: float = 30.0, pool_size: int = 5) -> Engine:
    """An engine for our database; SQLite gets WAL and foreign keys so it behaves like a server.
    `pool_timeout`: how long a thread waits for one of the pool's connections before failing;
    `pool_size`: connections kept open (the accounts a cycle works on at once, and a few for the rest),
    with `POOL_OVERFLOW` more opened when all of them are in use."""
    url = make_url(database_url)
    pool: dict[str, Any] = {"pool_timeout": pool_timeout, "pool_size": max(1, pool_size),
                            "max_overflow": POOL_OVERFLOW}
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):  # one connection per thread: no queue to size
            pool = {}
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, **pool)
        _SQLITE_WRITERS[engine] = threading.Lock()

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # pre-ping: a pooled connection the server dropped (restart, failover, idle cut) is replaced on
    # checkout instead of failing the next statement
    engine = create_engine(url, pool_pre_ping=True, **pool)
    _reconnect_through_blips(engine)
    return engine


@contextmanager
def one_writer(engine: Engine) -> Iterator[None]:
    """Hold while writing a large batch (an account's pull): SQLite takes one writer at a time and
    fails a writer that waited longer than its busy timeout, and a cold pull of a large account can
    hold the lock for longer than that while a dozen more wait. Pulls queue here instead, in the
    process, where waiting has no limit; short writes (the gate, the executor) still wait for at most
    one batch in SQLite's own queue. Nothing to hold on PostgreSQL (row locks, many writers)."""
    lock = _SQLITE_WRITERS.get(engine)
    if lock is None:
        yield
        return
    with lock:
        yield


def _reconnect_through_blips(engine: Engine) -> None:
    """Once the engine has reached the server, a new connection refused or dropped during a short
    outage is tried again for a few seconds (agent/storage/db_retry.py); the very first connection is not,
    so an unreachable database at start is reported at once."""
    reached = [False]

    @event.listens_for(engine, "connect")
    def _reached(_dbapi_connection: Any, _record: Any) -> None:
        reached[0] = True

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        if not reached[0]:
            return None  # the default connect
        for attempt in Retrying(retry=retry_if_exception_type(dialect.loaded_dbapi.OperationalError),
                                stop=stop_after_delay(RECONNECT_SECONDS),
                                wait=wait_exponential(multiplier=0.1, max=1.0), reraise=True):
            with attempt:
                return dialect.connect(*cargs, **cparams)
        return None  # pragma: no cover (tenacity re-raises)


def upsert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    """INSERT the rows, or UPDATE every non-key column where the key already exists."""
    if not rows:
        return
    dialect = connection.dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    update_columns = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys}
    statement = insert.on_conflict_do_update(index_elements=list(keys), set_=update_columns)
    connection.execute(statement, list(rows))


def upsert_account(connection: Connection, account: AccountInfo, now: datetime) -> None:
    row = {
        "account_id": account.account_id,
        "platform": account.platform,
        "name": account.name,
        "currency": account.currency,
        "timezone": account.timezone,
        "updated_at": now,
    }
    upsert_rows(connection, Account.__table__, [row], ["account_id"])  # type: ignore[arg-type]


def upsert_entities(connection: Connection, entities: Iterable[Entity], now: datetime) -> int:
    count = 0
    for chunk in chunks(entities, CHUNK_ROWS):
        rows = [
            {
                "account_id": e.account_id,
                "entity_id": e.entity_id,
                "platform": e.platform,
                "level": e.level,
                "parent_id": e.parent_id,
                "name": e.name,
                "status": e.status,
                "currency": e.currency,
                "daily_budget": e.daily_budget,
                "learning": e.learning,
                "last_changed": e.last_changed,
                "attributes": dict(e.attributes),
                "updated_at": now,
            }
            for e in chunk
        ]
        upsert_rows(connection, EntityRecord.__table__, rows, ["account_id", "entity_id"])  # type: ignore[arg-type]
        count += len(rows)
    return count


METRIC_COLUMNS = ("platform", "account_id", "entity_id", "day", "level", "currency", "spend", "impressions",
                  "clicks", "conversions", "conversion_value", "reach", "pulled_at")
METRIC_KEYS = ("platform", "account_id", "entity_id", "day")


def upsert_metrics(connection: Connection, metrics: Iterable[MetricRow], now: datetime) -> int:
    """Bulk upsert of daily metric rows; returns how many rows were written.

    The hot path of every pull, so it skips SQLAlchemy's per-row parameter processing (70% of the
    time when measured): rows become plain tuples (money as integer micros, as the `Money` column
    stores it) and go to the driver in one executemany per chunk on SQLite, or through binary COPY
    into a staging table on PostgreSQL. bench/ingest.py compares it with a DB-only method.
    """
    count = 0
    day, pulled_at = day_value(connection), moment_value(connection, now)
    for chunk in chunks(metrics, chunk_rows(connection)):
        rows = [
            (m.platform, m.account_id, m.entity_id, day(m.day), m.level,
             m.currency, to_micros(m.spend), m.impressions, m.clicks, m.conversions,
             to_micros(m.conversion_value), m.reach, pulled_at)
            for m in chunk
        ]
        raw_upsert(connection, "daily_metrics", METRIC_COLUMNS, METRIC_KEYS, rows)
        count += len(rows)
    return count


SEARCH_TERM_COLUMNS = ("account_id", "ad_group_id", "day", "search_term", "campaign_id", "impressions", "clicks",
                       "spend", "conversions", "conversion_value", "pulled_at")
SEARCH_TERM_KEYS = ("account_id", "ad_group_id", "day", "search_term")


def upsert_search_terms(connection: Connection, terms: Iterable[SearchTermRow], now: datetime) -> int:
    """Bulk upsert of search-term rows, by the same driver-speed path as `upsert_metrics` (a Google
    account has more search-term rows than metric rows)."""
    count = 0
    day, pulled_at = day_value(connection), moment_value(connection, now)
    for chunk in chunks(terms, chunk_rows(connection)):
        rows = [
            (t.account_id, t.ad_group_id, day(t.day), t.search_term, t.campaign_id,
             t.impressions, t.clicks, to_micros(t.spend), t.conversions, to_micros(t.conversion_value), pulled_at)
            for t in chunk
        ]
        raw_upsert(connection, "search_terms", SEARCH_TERM_COLUMNS, SEARCH_TERM_KEYS, rows)
        count += len(rows)
    return count


def latest_metric_day(connection: Connection, account_id: str) -> date | None:
    """The newest day stored for an account: decides between a first full pull and a look-back."""
    return connection.execute(
        select(func.max(DailyMetric.day)).where(DailyMetric.account_id == account_id)
    ).scalar_one_or_none()


def last_reread(connection: Connection, account_id: str, first_day: date, last_day: date) -> datetime | None:
    """When the account's days `first_day`..`last_day` were last read from the platform (the newest
    `pulled_at` among them, UTC; None if none is stored): a re-read rewrites every row it returns."""
    newest = connection.execute(
        select(func.max(DailyMetric.pulled_at)).where(DailyMetric.account_id == account_id,
                                                      DailyMetric.day >= first_day, DailyMetric.day <= last_day)
    ).scalar_one_or_none()
    if newest is None:
        return None
    return newest if newest.tzinfo is not None else newest.replace(tzinfo=UTC)


def count_metric_rows(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(DailyMetric)).scalar_one())


def load_entities(connection: Connection, account_id: str) -> dict[str, Entity]:
    records = connection.execute(select(EntityRecord.__table__).where(EntityRecord.account_id == account_id)).all()
    entities: dict[str, Entity] = {}
    for r in records:
        entities[r.entity_id] = Entity(
            platform=r.platform,
            account_id=r.account_id,
            level=r.level,
            entity_id=r.entity_id,
            parent_id=r.parent_id,
            name=r.name,
            status=r.status,
            currency=r.currency,
            daily_budget=r.daily_budget,
            learning=r.learning,
            last_changed=r.last_changed,
            attributes=r.attributes or {},
        )
    return entities


def load_daily_metrics(connection: Connection, account_id: str, start: date, end: date) -> dict[str, list[MetricRow]]:
    """Stored rows per entity for `start..end`, oldest first.

    The snapshot's largest read, on every cycle of every account: the rows come back as the driver
    gives them (no SQLAlchemy result processing, which was two thirds of the time on 8,500 rows) and
    are converted here as the columns' types would (days from ISO text on SQLite, money from micros)."""
    as_stored = day_value(connection)
    bounds = {"account": account_id, "start": as_stored(start), "end": as_stored(end)}
    day_of = stored_day(connection)
    daily: dict[str, list[MetricRow]] = defaultdict(list)
    for platform, entity_id, level, day, currency, spend, impressions, clicks, conversions, value, reach in \
            connection.execute(_DAILY_METRICS, bounds):
        daily[entity_id].append(MetricRow(platform, account_id, level, entity_id, day_of(day), currency,
                                          from_micros(spend), impressions, clicks, conversions, from_micros(value),
                                          reach))
    return dict(daily)


# plain text, so the driver's values come back untouched (see load_daily_metrics)
_DAILY_METRICS = text("SELECT platform, entity_id, level, day, currency, spend, impressions, clicks, conversions, "
                      "conversion_value, reach FROM daily_metrics WHERE account_id = :account AND day >= :start "
                      "AND day <= :end ORDER BY entity_id, day")


def metric_row_of(r: RowMapping) -> MetricRow:
    """A stored `daily_metrics` or `intraday_metrics` row (models.DeliveryColumns) as a MetricRow."""
    return MetricRow(platform=r["platform"], account_id=r["account_id"], level=r["level"], entity_id=r["entity_id"],
                     day=r["day"], currency=r["currency"], spend=r["spend"], impressions=r["impressions"],
                     clicks=r["clicks"], conversions=r["conversions"], conversion_value=r["conversion_value"],
                     reach=r["reach"])


def record_conversion_revisions(connection: Connection, account_id: str, pulled_on: date,
                                first_day: date | None = None) -> int:
    """Snapshot the account's per-day conversion totals as stored right after a pull, for the days
    the pull re-read (from `first_day`): a day not re-read was not seen again, and recording its
    stale total at a later age would tell the lag curve its conversions had stopped coming."""
    since = pulled_on - timedelta(days=REVISION_HORIZON_DAYS)
    totals = connection.execute(
        select(DailyMetric.day, func.sum(DailyMetric.conversions), func.sum(DailyMetric.__table__.c.conversion_value))
        .where(DailyMetric.account_id == account_id, DailyMetric.level == "ad_set",
               DailyMetric.day >= max(since, first_day or since))
        .group_by(DailyMetric.day)
    ).all()
    rows = [
        {"account_id": account_id, "day": day, "pulled_on": pulled_on, "conversions": float(conversions or 0),
         "conversion_value": value if value is not None else Decimal(0)}
        for day, conversions, value in totals
    ]
    upsert_rows(connection, ConversionRevisionRecord.__table__, rows, ["account_id", "day", "pulled_on"])  # type: ignore[arg-type]
    return len(rows)


def load_conversion_revisions(connection: Connection, account_id: str, since: date) -> list[ConversionRevision]:
    query = select(ConversionRevisionRecord.__table__).where(
        ConversionRevisionRecord.account_id == account_id, ConversionRevisionRecord.day >= since
    )
    return [
        ConversionRevision(day=r.day, age_days=(r.pulled_on - r.day).days, conversions=r.conversions,
                           conversion_value=r.conversion_value)
        for r in connection.execute(query)
    ]


def upsert_audiences(connection: Connection, audiences: Sequence[Audience], now: datetime) -> None:
    rows = [
        {"account_id": a.account_id, "audience_id": a.audience_id, "name": a.name,
         "estimated_size": a.estimated_size, "updated_at": now}
        for a in audiences
    ]
    upsert_rows(connection, AudienceRecord.__table__, rows, ["account_id", "audience_id"])  # type: ignore[arg-type]


def load_audiences(connection: Connection, account_id: str) -> list[Audience]:
    query = select(AudienceRecord.__table__).where(AudienceRecord.account_id == account_id)
    return [Audience(account_id=r.account_id, audience_id=r.audience_id, name=r.name,
                     estimated_size=r.estimated_size) for r in connection.execute(query)]


def audience_key(audience_ids: Iterable[str]) -> str:
    return "|".join(sorted(audience_ids))


class StoredReach(NamedTuple):
    reach: int
    definition: str | None
    estimated_on: date


def upsert_reach_estimates(connection: Connection, account_id: str, estimates: Mapping[frozenset[str], int],
                           on: date, definitions: Mapping[frozenset[str], str] | None = None) -> None:
    rows = [{"account_id": account_id, "audience_key": audience_key(ids), "reach": reach, "estimated_on": on,
             "definition": (definitions or {}).get(ids)}
            for ids, reach in estimates.items()]
    upsert_rows(connection, ReachEstimate.__table__, rows, ["account_id", "audience_key"])  # type: ignore[arg-type]


def load_reach_estimate_records(connection: Connection, account_id: str) -> dict[frozenset[str], StoredReach]:
    """Every stored estimate of an account with the definition it was asked for and its day."""
    query = select(ReachEstimate.__table__).where(ReachEstimate.account_id == account_id)
    return {frozenset(r.audience_key.split("|")): StoredReach(r.reach, r.definition, r.estimated_on)
            for r in connection.execute(query)}


def load_reach_estimates(connection: Connection, account_id: str,
                         fresh_since: date | None = None) -> dict[frozenset[str], int]:
    query = select(ReachEstimate.__table__).where(ReachEstimate.account_id == account_id)
    if fresh_since is not None:
        query = query.where(ReachEstimate.estimated_on >= fresh_since)
    return {frozenset(r.audience_key.split("|")): r.reach for r in connection.execute(query)}


def load_search_terms(connection: Connection, account_id: str, start: date, end: date) -> list[SearchTermRow]:
    """The account's stored search-term lines over `start..end`: read raw and converted here, as the
    daily metrics are (load_daily_metrics), since the snapshot reads thousands of them each cycle."""
    as_stored = day_value(connection)
    day_of = stored_day(connection)
    return [SearchTermRow(account_id, campaign_id, ad_group_id, day_of(day), term, impressions, clicks,
                          from_micros(spend), conversions, from_micros(value))
            for campaign_id, ad_group_id, day, term, impressions, clicks, spend, conversions, value
            in connection.execute(_SEARCH_TERMS, {"account": account_id, "start": as_stored(start),
                                                  "end": as_stored(end)})]


_SEARCH_TERMS = text("SELECT campaign_id, ad_group_id, day, search_term, impressions, clicks, spend, conversions, "
                     "conversion_value FROM search_terms WHERE account_id = :account AND day >= :start "
                     "AND day <= :end")


def campaign_of(connection: Connection, account_id: str, entity_id: str) -> str | None:
    """The stored campaign an entity belongs to (the entity itself if it is a campaign; an ad's through
    its ad set), or None if the entity or a parent is not stored."""
    current: str | None = entity_id
    for _ in range(4):  # campaign <- ad set <- ad (<- asset): never deeper
        if current is None:
            return None
        row = connection.execute(select(EntityRecord.level, EntityRecord.parent_id).where(
            EntityRecord.account_id == account_id, EntityRecord.entity_id == current)).one_or_none()
        if row is None:
            return None
        if row.level == "campaign":
            return current
        current = row.parent_id
    return None


def ad_set_parents(connection: Connection) -> dict[tuple[str, str], str | None]:
    """Each stored ad set's campaign: (account id, ad set id) -> campaign id."""
    return {(row.account_id, row.entity_id): row.parent_id for row in connection.execute(
        select(EntityRecord.account_id, EntityRecord.entity_id, EntityRecord.parent_id)
        .where(EntityRecord.level == "ad_set"))}


def ad_set_spend_rows(connection: Connection, since: date | None = None) -> Sequence[Any]:
    """Every stored ad-set day's spend (platform, account, ad set, currency, spend), from `since`."""
    query = select(DailyMetric.platform, DailyMetric.account_id, DailyMetric.entity_id, DailyMetric.currency,
                   DailyMetric.spend).where(DailyMetric.level == "ad_set")
    if since is not None:
        query = query.where(DailyMetric.day >= since)
    return connection.execute(query).all()
