"""Writing many rows at the driver's speed: plain tuples, no per-row parameter processing.

SQLAlchemy's executemany builds and processes a parameter dictionary per row (most of the time of a
pull when measured). The pull's bulk tables (daily metrics, search terms, segment rows) are written
from tuples instead: one executemany per chunk on SQLite, binary COPY into a staging table then one
`INSERT ... SELECT ... ON CONFLICT` on PostgreSQL. Values are given as the columns store them: money
as integer micros (`models.to_micros`), days and moments through `day_value` and `moment_value`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection

CHUNK_ROWS = 2000
# PostgreSQL pays a fixed cost per chunk (COPY round trip, INSERT ... SELECT, TRUNCATE of the
# staging table): at 2,000 rows a 1M-row pull spent a third of its time on it. 20,000 rows of
# tuples are a few MB, so the pull still streams.
COPY_CHUNK_ROWS = 20_000


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def chunk_rows(connection: Connection) -> int:
    """Rows per chunk on this connection's database."""
    return COPY_CHUNK_ROWS if connection.dialect.name == "postgresql" else CHUNK_ROWS


def sqlite_datetime(moment: datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores a value (UTC, no offset), so both paths agree."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def aware(moment: datetime) -> datetime:
    """A naive moment taken as UTC (as `sqlite_datetime` stores it): binary COPY into a timestamptz
    column reads the value as UTC, where text COPY read it in the session's time zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def moment_value(connection: Connection, moment: datetime) -> Any:
    """A moment as a raw row carries it on this connection's database."""
    return aware(moment) if connection.dialect.name == "postgresql" else sqlite_datetime(moment)


def day_value(connection: Connection) -> Any:
    """How a raw row carries a day on this connection's database: a `date` (PostgreSQL) or its ISO text."""
    return (lambda day: day) if connection.dialect.name == "postgresql" else date.isoformat


def stored_day(connection: Connection) -> Any:
    """The reverse of `day_value`: a raw row's day as a `date`."""
    return (lambda day: day) if connection.dialect.name == "postgresql" else date.fromisoformat


def raw_upsert(connection: Connection, table: str, columns: Sequence[str], keys: Sequence[str],
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
        # binary COPY: no text formatting and parsing of every value (a third less time than text
        # COPY at 100,000 rows); it needs each column's exact type, read from the staging table
        cursor.execute("SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                       f"WHERE a.attrelid = '{stage}'::regclass AND a.attnum > 0 AND NOT a.attisdropped")
        types = dict(cursor.fetchall())
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([types[c] for c in columns])
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {conflict}")
        cursor.execute(f"TRUNCATE {stage}")
    finally:
        cursor.close()
