"""Bulk metric ingestion: upsert by (platform, account, entity, day), exact money, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from agent.storage import store
from connectors.records import MetricRow

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def row(entity_id: str, day: date, spend: str, conversions: float = 1.0, value: str = "10.00") -> MetricRow:
    return MetricRow(
        platform="meta", account_id="acct", level="ad_set", entity_id=entity_id, day=day, currency="EUR",
        spend=Decimal(spend), impressions=1000, clicks=50, conversions=conversions,
        conversion_value=Decimal(value), reach=800,
    )


def test_repull_overwrites_restated_days_and_never_duplicates(engine: Engine) -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(10)]
    first = [row(f"s{n}", d, "12.34") for n in range(3) for d in days]
    with engine.begin() as connection:
        assert store.upsert_metrics(connection, first, NOW) == 30
    # a look-back re-pull of the last 4 days, with late conversions restated
    restated = [row(f"s{n}", d, "12.34", conversions=3.0, value="31.50") for n in range(3) for d in days[-4:]]
    with engine.begin() as connection:
        store.upsert_metrics(connection, restated, NOW + timedelta(days=1))
        assert store.count_metric_rows(connection) == 30
        stored = store.load_daily_metrics(connection, "acct", days[0], days[-1])
    assert sorted(stored) == ["s0", "s1", "s2"]
    s0 = {r.day: r for r in stored["s0"]}
    assert s0[days[-1]].conversions == 3.0 and s0[days[-1]].conversion_value == Decimal("31.50")
    assert s0[days[0]].conversions == 1.0 and s0[days[0]].conversion_value == Decimal("10.00")


def test_money_round_trips_exactly(engine: Engine) -> None:
    amounts = ["0.01", "1234567.89", "0.333333", "19999999.999999"]
    rows = [row(f"e{i}", date(2026, 11, 1), amount, value=amount) for i, amount in enumerate(amounts)]
    with engine.begin() as connection:
        store.upsert_metrics(connection, rows, NOW)
        stored = store.load_daily_metrics(connection, "acct", date(2026, 11, 1), date(2026, 11, 1))
    for i, amount in enumerate(amounts):
        (back,) = stored[f"e{i}"]
        assert back.spend == Decimal(amount) and isinstance(back.spend, Decimal)
        assert back.conversion_value == Decimal(amount)


def test_latest_metric_day_drives_the_next_pull_window(engine: Engine) -> None:
    with engine.begin() as connection:
        assert store.latest_metric_day(connection, "acct") is None
        store.upsert_metrics(connection, [row("s", date(2026, 11, 20), "1.00")], NOW)
        assert store.latest_metric_day(connection, "acct") == date(2026, 11, 20)


def test_ingestion_in_many_chunks(engine: Engine) -> None:
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(500)]
    rows = [row(f"s{n}", d, "1.00") for n in range(10) for d in days]  # 5,000 rows, three chunks
    with engine.begin() as connection:
        assert store.upsert_metrics(connection, iter(rows), NOW) == 5000
        assert store.count_metric_rows(connection) == 5000


def test_conversion_revisions_track_restatements(engine: Engine) -> None:
    day = date(2026, 11, 10)
    with engine.begin() as connection:
        store.upsert_metrics(connection, [row("s1", day, "10.00", 1.0, "20.00"), row("s2", day, "5.00", 2.0, "0.50")],
                             NOW)
        store.record_conversion_revisions(connection, "acct", pulled_on=day + timedelta(days=1))
        store.upsert_metrics(connection, [row("s1", day, "10.00", 4.0, "80.00")], NOW)
        store.record_conversion_revisions(connection, "acct", pulled_on=day + timedelta(days=5))
        revisions = sorted(store.load_conversion_revisions(connection, "acct", day), key=lambda r: r.age_days)
    assert [(r.age_days, r.conversions, r.conversion_value) for r in revisions] == [
        (1, 3.0, Decimal("20.50")),
        (5, 6.0, Decimal("80.50")),
    ]
