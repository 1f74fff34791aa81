"""The bulk metric and search-term upserts (plain tuples through executemany on SQLite, binary COPY
on PostgreSQL) store exactly what SQLAlchemy's typed columns store, keep restatements across
chunks, and convert money to micros half-even, on both databases."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, Table, select

from agent.storage import bulk_writes, store
from agent.storage.models import DailyMetric, IntradayMetric, to_micros
from connectors.records import MetricRow, SearchTermRow

NOW = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)
# half-even ties at the sixth decimal, negatives (refunds), sub-micro amounts, large amounts
AMOUNTS = ["0", "0.01", "12.34", "0.0000005", "0.0000015", "0.0000025", "-0.0000035", "-7.25", "0.1234564999",
           "98765432109.876543", "1E+3", "3.000000500"]
DAILY: Table = DailyMetric.__table__  # type: ignore[assignment]
INTRADAY: Table = IntradayMetric.__table__  # type: ignore[assignment]


def metric_rows(conversions_scale: float = 1.0) -> list[MetricRow]:
    day = date(2026, 11, 1)
    return [
        MetricRow(platform="google" if i % 2 else "meta", account_id="acct", level="ad" if i % 3 else "ad_set",
                  entity_id=f"e{i}", day=day + timedelta(days=i % 4), currency="EUR", spend=Decimal(amount),
                  impressions=1000 * i, clicks=i, conversions=(i * 0.5 + 0.25) * conversions_scale,
                  conversion_value=Decimal(AMOUNTS[-1 - i]), reach=None if i % 2 else 10 * i)
        for i, amount in enumerate(AMOUNTS)
    ]


def stored(engine: Engine, table: Table) -> list[tuple[Any, ...]]:
    keys = [table.c[k] for k in store.METRIC_KEYS]
    with engine.connect() as connection:  # raw stored values: the Money column's integer micros as written
        return [tuple(r) for r in connection.exec_driver_sql(
            f"SELECT {', '.join(store.METRIC_COLUMNS)} FROM {table.name} ORDER BY "
            f"{', '.join(k.name for k in keys)}")]


def test_bulk_upsert_stores_what_the_typed_columns_store(engine: Engine) -> None:
    rows = metric_rows()
    with engine.begin() as connection:
        assert store.upsert_metrics(connection, rows, NOW) == len(rows)
        # the same rows through SQLAlchemy's typed columns (Money, Date, DateTime) into the twin table
        store.upsert_rows(connection, INTRADAY, [{**asdict(r), "pulled_at": NOW} for r in rows],
                          store.METRIC_KEYS)
    bulk, typed = stored(engine, DAILY), stored(engine, INTRADAY)
    assert len(bulk) == len(rows)
    assert bulk == typed
    with engine.connect() as connection:
        back = store.load_daily_metrics(connection, "acct", date(2026, 11, 1), date(2026, 11, 4))
    by_entity = {r.entity_id: r for rows_ in back.values() for r in rows_}
    for original in rows:
        again = by_entity[original.entity_id]
        assert again.spend == Decimal(to_micros(original.spend) or 0) / 1_000_000
        assert (again.day, again.level, again.reach, again.conversions) == (
            original.day, original.level, original.reach, original.conversions)


def test_restatements_replace_rows_across_chunks(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_writes, "CHUNK_ROWS", 5)  # several executemany batches / COPYs into one staging table
    monkeypatch.setattr(bulk_writes, "COPY_CHUNK_ROWS", 5)
    with engine.begin() as connection:
        store.upsert_metrics(connection, metric_rows(), NOW)
    restated = metric_rows(conversions_scale=3.0)[4:]  # a look-back re-pull restating the later rows
    later = NOW + timedelta(days=1)
    with engine.begin() as connection:
        assert store.upsert_metrics(connection, restated, later) == len(restated)
        assert store.count_metric_rows(connection) == len(AMOUNTS)
    with engine.connect() as connection:
        back = store.load_daily_metrics(connection, "acct", date(2026, 11, 1), date(2026, 11, 4))
        pulled = dict(connection.execute(select(DAILY.c.entity_id, DAILY.c.pulled_at)).all())
    conversions = {r.entity_id: r.conversions for rows_ in back.values() for r in rows_}
    for i in range(len(AMOUNTS)):
        scale = 3.0 if i >= 4 else 1.0
        assert conversions[f"e{i}"] == (i * 0.5 + 0.25) * scale
        moment = pulled[f"e{i}"]
        assert moment.replace(tzinfo=moment.tzinfo or UTC) == (later if i >= 4 else NOW)


def test_search_terms_round_trip_and_restate(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_writes, "CHUNK_ROWS", 3)
    monkeypatch.setattr(bulk_writes, "COPY_CHUNK_ROWS", 3)
    day = date(2026, 11, 2)
    terms = [SearchTermRow(account_id="acct", campaign_id="c1", ad_group_id=f"g{i % 2}", day=day,
                           search_term=f"term {i}", impressions=100 + i, clicks=i, spend=Decimal(amount),
                           conversions=i / 4, conversion_value=Decimal("2.50"))
             for i, amount in enumerate(AMOUNTS[:8])]
    with engine.begin() as connection:
        assert store.upsert_search_terms(connection, terms, NOW) == len(terms)
        restated = [SearchTermRow(**{**asdict(t), "conversions": 9.0}) for t in terms[:3]]
        store.upsert_search_terms(connection, restated, NOW + timedelta(days=1))
        back = {t.search_term: t for t in store.load_search_terms(connection, "acct", day, day)}
    assert len(back) == len(terms)
    for i, term in enumerate(terms):
        expected = Decimal(to_micros(term.spend) or 0) / 1_000_000
        assert back[term.search_term].spend == expected
        assert back[term.search_term].conversions == (9.0 if i < 3 else term.conversions)
        assert asdict(back[term.search_term]) == {**asdict(term), "spend": expected,  # the read is raw: types too
                                                  "conversions": back[term.search_term].conversions,
                                                  "conversion_value": back[term.search_term].conversion_value}


@pytest.mark.parametrize("amount", [*AMOUNTS, "0.00000049999", "-0.0000005", "123456789012345678.1234565", "2.5E-6"])
def test_to_micros_is_half_even_at_the_sixth_decimal(amount: str) -> None:
    reference = int((Decimal(amount) * Decimal(1_000_000)).to_integral_value(rounding=ROUND_HALF_EVEN))
    assert to_micros(Decimal(amount)) == reference
    assert to_micros(None) is None


def test_to_micros_takes_plain_numbers_as_before() -> None:
    assert to_micros(Decimal("1.5")) == 1_500_000
    assert to_micros(3) == 3_000_000  # type: ignore[arg-type]
    assert to_micros(0.5) == 500_000  # type: ignore[arg-type]
