"""Repository functions: the only place that writes the agent's tables.

Ingestion is bulk (`INSERT ... ON CONFLICT DO UPDATE` in chunks through SQLAlchemy Core), keyed by
(platform, account, entity, day) so that re-pulling a look-back window overwrites restated days
and never duplicates a row. The same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from agent.models import (
    Account,
    Action,
    AgentFlag,
    AudienceRecord,
    AuditEvent,
    ConversionRevisionRecord,
    Cycle,
    DailyMetric,
    EntityRecord,
    ReachEstimate,
    SearchTerm,
    to_micros,
)
from connectors.base import AccountInfo, Audience, Entity, MetricRow, SearchTermRow
from policies.base import BudgetMove, ConversionRevision

CHUNK_ROWS = 2000
# PostgreSQL pays a fixed cost per chunk (COPY round trip, INSERT ... SELECT, TRUNCATE of the
# staging table): at 2,000 rows a 1M-row pull spent a third of its time on it. 20,000 rows of
# tuples are a few MB, so the pull still streams.
COPY_CHUNK_ROWS = 20_000
RECONNECT_SECONDS = 8.0  # as agent/db_retry.RETRY_SECONDS
REVISION_HORIZON_DAYS = 35  # restatements stop after 28 days; keep a margin

# what counts as applied when the agent looks back (also agent.actions.APPLIED_OR_MAYBE):
# a write whose outcome is unknown counts as applied until it is settled
APPLIED_STATES = ("executed", "unknown")


def make_engine(database_url: str) -> Engine:
    """An engine for our database; SQLite gets WAL and foreign keys so it behaves like a server."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})

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
    engine = create_engine(url, pool_pre_ping=True)
    _reconnect_through_blips(engine)
    return engine


def _reconnect_through_blips(engine: Engine) -> None:
    """Once the engine has reached the server, a new connection refused or dropped during a short
    outage is tried again for a few seconds (agent/db_retry.py); the very first connection is not,
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


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _upsert(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
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
    _upsert(connection, Account.__table__, [row], ["account_id"])  # type: ignore[arg-type]


def upsert_entities(connection: Connection, entities: Iterable[Entity], now: datetime) -> int:
    count = 0
    for chunk in _chunks(entities, CHUNK_ROWS):
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
        _upsert(connection, EntityRecord.__table__, rows, ["account_id", "entity_id"])  # type: ignore[arg-type]
        count += len(rows)
    return count


METRIC_COLUMNS = ("platform", "account_id", "entity_id", "day", "level", "currency", "spend", "impressions",
                  "clicks", "conversions", "conversion_value", "reach", "pulled_at")
METRIC_KEYS = ("platform", "account_id", "entity_id", "day")


def upsert_metrics(connection: Connection, metrics: Iterable[MetricRow], now: datetime) -> int:
    """Bulk upsert of daily metric rows; returns how many rows were written.

    The hot path of every pull, so it skips SQLAlchemy's per-row parameter processing (70% of the
    time when measured): rows become plain tuples (money as integer micros, as the `Money` column
    stores it) and go to the driver in one executemany per chunk on SQLite, or through COPY into a
    staging table on PostgreSQL. bench/ingest.py compares it with a raw-SQL bound.
    """
    count = 0
    sqlite_style = connection.dialect.name != "postgresql"
    pulled_at: Any = _sqlite_datetime(now) if sqlite_style else now
    for chunk in _chunks(metrics, CHUNK_ROWS if sqlite_style else COPY_CHUNK_ROWS):
        rows = [
            (m.platform, m.account_id, m.entity_id, m.day.isoformat() if sqlite_style else m.day, m.level,
             m.currency, to_micros(m.spend), m.impressions, m.clicks, m.conversions,
             to_micros(m.conversion_value), m.reach, pulled_at)
            for m in chunk
        ]
        _raw_upsert(connection, "daily_metrics", METRIC_COLUMNS, METRIC_KEYS, rows)
        count += len(rows)
    return count


def _sqlite_datetime(moment: datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores a value (UTC, no offset), so both paths agree."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _raw_upsert(connection: Connection, table: str, columns: Sequence[str], keys: Sequence[str],
                rows: list[tuple[Any, ...]]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE of plain tuples, at the driver's speed."""
    if not rows:
        return
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    if connection.dialect.name != "postgresql":
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", rows)
        return
    stage = f"_stage_{table}"
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) "
                       "ON COMMIT DROP")
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {conflict}")
        cursor.execute(f"TRUNCATE {stage}")
    finally:
        cursor.close()


SEARCH_TERM_COLUMNS = ("account_id", "ad_group_id", "day", "search_term", "campaign_id", "impressions", "clicks",
                       "spend", "conversions", "conversion_value", "pulled_at")
SEARCH_TERM_KEYS = ("account_id", "ad_group_id", "day", "search_term")


def upsert_search_terms(connection: Connection, terms: Iterable[SearchTermRow], now: datetime) -> int:
    """Bulk upsert of search-term rows, by the same driver-speed path as `upsert_metrics` (a Google
    account has more search-term rows than metric rows)."""
    count = 0
    sqlite_style = connection.dialect.name != "postgresql"
    pulled_at: Any = _sqlite_datetime(now) if sqlite_style else now
    for chunk in _chunks(terms, CHUNK_ROWS if sqlite_style else COPY_CHUNK_ROWS):
        rows = [
            (t.account_id, t.ad_group_id, t.day.isoformat() if sqlite_style else t.day, t.search_term, t.campaign_id,
             t.impressions, t.clicks, to_micros(t.spend), t.conversions, to_micros(t.conversion_value), pulled_at)
            for t in chunk
        ]
        _raw_upsert(connection, "search_terms", SEARCH_TERM_COLUMNS, SEARCH_TERM_KEYS, rows)
        count += len(rows)
    return count


def latest_metric_day(connection: Connection, account_id: str) -> date | None:
    """The newest day stored for an account: decides between a first full pull and a look-back."""
    return connection.execute(
        select(func.max(DailyMetric.day)).where(DailyMetric.account_id == account_id)
    ).scalar_one_or_none()


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
    """Stored rows per entity for `start..end`, oldest first."""
    query = (
        select(DailyMetric.__table__)
        .where(DailyMetric.account_id == account_id, DailyMetric.day >= start, DailyMetric.day <= end)
        .order_by(DailyMetric.entity_id, DailyMetric.day)
    )
    daily: dict[str, list[MetricRow]] = defaultdict(list)
    for r in connection.execute(query):
        daily[r.entity_id].append(
            MetricRow(
                platform=r.platform,
                account_id=r.account_id,
                level=r.level,
                entity_id=r.entity_id,
                day=r.day,
                currency=r.currency,
                spend=r.spend,
                impressions=r.impressions,
                clicks=r.clicks,
                conversions=r.conversions,
                conversion_value=r.conversion_value,
                reach=r.reach,
            )
        )
    return dict(daily)


def start_cycle(connection: Connection, now: datetime, dry_run: bool, runner: str | None = None) -> int:
    """A new `running` cycle row; `runner` (a claim id) tells recovery whether its process still lives."""
    result = connection.execute(
        insert(Cycle).values(started_at=now, dry_run=dry_run, status="running",
                             summary={"runner": runner} if runner else {})
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def finish_cycle(connection: Connection, cycle_id: int, now: datetime, status: str, summary: Mapping[str, Any]) -> None:
    connection.execute(
        update(Cycle)
        .where(Cycle.id == cycle_id)
        .values(finished_at=now, status=status, summary=dict(summary))
    )


def record_event(
    connection: Connection,
    *,
    at: datetime,
    event: str,
    actor: str,
    message: str,
    data: Mapping[str, Any] | None = None,
    cycle_id: int | None = None,
    action_id: int | None = None,
    account_id: str | None = None,
) -> None:
    """Append one audit event. Never updated, never deleted. `at` is the agent's clock (simulated
    under `--today`); the row keeps its day as `simulated_day` and the real time as `at`."""
    # one prepared statement with parameters: building a new INSERT ... VALUES per event cost more
    # than executing it (every proposal and state change records one)
    clock_time = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    connection.execute(_INSERT_EVENT, {"at": wall_clock(), "simulated_day": clock_time.astimezone(UTC).date(),
                                       "event": event, "actor": actor, "message": message,
                                       "data": dict(data or {}), "cycle_id": cycle_id, "action_id": action_id,
                                       "account_id": account_id})


_INSERT_EVENT = insert(AuditEvent)


def wall_clock() -> datetime:
    """The real time, for the audit trail's `at` only: an audit record says when it was written,
    whatever day a simulation or replay pretends it is. Everything else takes the clock passed in."""
    return datetime.now(UTC)


def record_conversion_revisions(connection: Connection, account_id: str, pulled_on: date) -> int:
    """Snapshot the account's per-day conversion totals as stored right after a pull."""
    totals = connection.execute(
        select(DailyMetric.day, func.sum(DailyMetric.conversions), func.sum(DailyMetric.__table__.c.conversion_value))
        .where(DailyMetric.account_id == account_id, DailyMetric.level == "ad_set",
               DailyMetric.day >= pulled_on - timedelta(days=REVISION_HORIZON_DAYS))
        .group_by(DailyMetric.day)
    ).all()
    rows = [
        {"account_id": account_id, "day": day, "pulled_on": pulled_on, "conversions": float(conversions or 0),
         "conversion_value": value if value is not None else Decimal(0)}
        for day, conversions, value in totals
    ]
    _upsert(connection, ConversionRevisionRecord.__table__, rows, ["account_id", "day", "pulled_on"])  # type: ignore[arg-type]
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
    _upsert(connection, AudienceRecord.__table__, rows, ["account_id", "audience_id"])  # type: ignore[arg-type]


def load_audiences(connection: Connection, account_id: str) -> list[Audience]:
    query = select(AudienceRecord.__table__).where(AudienceRecord.account_id == account_id)
    return [Audience(account_id=r.account_id, audience_id=r.audience_id, name=r.name,
                     estimated_size=r.estimated_size) for r in connection.execute(query)]


def audience_key(audience_ids: Iterable[str]) -> str:
    return "|".join(sorted(audience_ids))


def upsert_reach_estimates(connection: Connection, account_id: str, estimates: Mapping[frozenset[str], int],
                           on: date) -> None:
    rows = [{"account_id": account_id, "audience_key": audience_key(ids), "reach": reach, "estimated_on": on}
            for ids, reach in estimates.items()]
    _upsert(connection, ReachEstimate.__table__, rows, ["account_id", "audience_key"])  # type: ignore[arg-type]


def load_reach_estimates(connection: Connection, account_id: str,
                         fresh_since: date | None = None) -> dict[frozenset[str], int]:
    query = select(ReachEstimate.__table__).where(ReachEstimate.account_id == account_id)
    if fresh_since is not None:
        query = query.where(ReachEstimate.estimated_on >= fresh_since)
    return {frozenset(r.audience_key.split("|")): r.reach for r in connection.execute(query)}


def load_search_terms(connection: Connection, account_id: str, start: date, end: date) -> list[SearchTermRow]:
    query = select(SearchTerm.__table__).where(
        SearchTerm.account_id == account_id, SearchTerm.day >= start, SearchTerm.day <= end
    )
    return [
        SearchTermRow(account_id=r.account_id, campaign_id=r.campaign_id, ad_group_id=r.ad_group_id, day=r.day,
                      search_term=r.search_term, impressions=r.impressions, clicks=r.clicks, spend=r.spend,
                      conversions=r.conversions, conversion_value=r.conversion_value)
        for r in connection.execute(query)
    ]


def load_recent_changes(connection: Connection, account_id: str, since: datetime) -> dict[str, list[date]]:
    """Days on which the agent executed a change on each entity (for cooldowns and change caps);
    a change whose outcome is still unknown counts as executed until it is settled."""
    query = select(Action.entity_id, Action.updated_at).where(
        Action.account_id == account_id, Action.state.in_(APPLIED_STATES), Action.updated_at >= since
    )
    changes: dict[str, list[date]] = defaultdict(list)
    for entity_id, updated_at in connection.execute(query):
        changes[entity_id].append(updated_at.date())
    return dict(changes)


def load_recent_budget_moves(connection: Connection, account_id: str, since: datetime,
                            timezone: str) -> dict[str, list[BudgetMove]]:
    """Budget changes the agent executed (or whose outcome is still unknown, which counts as applied)
    on each entity since `since`, oldest first (for hysteresis)."""
    query = select(Action.entity_id, Action.change, Action.updated_at).where(
        Action.account_id == account_id, Action.state.in_(APPLIED_STATES), Action.kind == "set_budget",
        Action.updated_at >= since,
    ).order_by(Action.updated_at, Action.id)
    moves: dict[str, list[BudgetMove]] = defaultdict(list)
    for entity_id, change, updated_at in connection.execute(query):
        try:
            before = Decimal(str(change["from"]["daily_budget"]))
            after = Decimal(str(change["to"]["daily_budget"]))
        except (KeyError, TypeError, ArithmeticError):
            continue  # not a budget change we can read: no direction to keep
        at = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)
        moves[entity_id].append(BudgetMove(at.astimezone(ZoneInfo(timezone)).date(), before, after))
    return dict(moves)


KILL_SWITCH = "kill_switch"


def set_flag(connection: Connection, name: str, enabled: bool, by: str, now: datetime) -> None:
    row = {"name": name, "enabled": enabled, "updated_by": by, "updated_at": now}
    _upsert(connection, AgentFlag.__table__, [row], ["name"])  # type: ignore[arg-type]


def flag_enabled(connection: Connection, name: str) -> bool:
    value = connection.execute(select(AgentFlag.enabled).where(AgentFlag.name == name)).scalar_one_or_none()
    return bool(value)
