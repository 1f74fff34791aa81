"""The per-snapshot index answers exactly what the row-by-row scans answered (bit for bit), and the
policies built on it (scope series, budget planner) propose exactly what they did before it."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from connectors.records import MetricRow
from policies import evaluate
from policies.base import Snapshot
from policies.budget_holders import budget_holders
from policies.conversion_lag import DEFAULT_CURVE
from policies.pacing import weekday_factors
from policies.robust_baseline import DayTotals, scope_series
from policies.settings import PolicySettings
from tests.unit.policies.builders import TODAY, entity, rows, snapshot


def _random_rows(seed: int, entities: int = 12, days: int = 60) -> list[MetricRow]:
    """Rows with gaps, ad rows beside ad-set rows, zero days, and now and then two rows for one day."""
    rng = random.Random(seed)
    result = []
    for index in range(entities):
        entity_id = f"s{index}"
        for offset in range(days, 0, -1):
            if rng.random() < 0.15:
                continue  # no delivery that day: absent, not zero
            day = TODAY - timedelta(days=offset)
            copies = 2 if rng.random() < 0.03 else 1
            for _ in range(copies):
                spend = Decimal(rng.randrange(0, 30_000)) / 100
                clicks = rng.randrange(0, 200)
                level = "ad" if rng.random() < 0.1 else "ad_set"
                result.append(MetricRow("meta", "acct", level, entity_id, day, "USD",  # type: ignore[arg-type]
                                        spend, clicks * rng.randrange(20, 90), clicks, rng.random() * clicks / 10,
                                        Decimal(rng.randrange(0, 90_000)) / 100))
    return result


def _snapshot(metric_rows: list[MetricRow]) -> Snapshot:
    ids = sorted({r.entity_id for r in metric_rows})
    return snapshot([entity(entity_id, parent=f"c{i % 3}") for i, entity_id in enumerate(ids)], metric_rows)


def _row_by_row_series(snap: Snapshot, ad_set_ids: list[str]) -> dict[date, DayTotals]:
    """`scope_series` as it was before the index: the reference for bit-for-bit equality."""
    raw: dict[date, list[float]] = {}
    for entity_id in ad_set_ids:
        for row in snap.daily.get(entity_id, ()):
            if row.level != "ad_set":
                continue
            acc = raw.setdefault(row.day, [0.0, 0.0, 0.0, 0.0, 0.0])
            acc[0] += float(row.spend)
            acc[1] += row.impressions
            acc[2] += row.clicks
            acc[3] += row.conversions
            acc[4] += float(row.conversion_value)
    series = {}
    for day, (spend, impressions, clicks, conversions, value) in raw.items():
        completeness = max(DEFAULT_CURVE.for_day(day, snap.today), 1e-3)
        series[day] = DayTotals(day, spend, int(impressions), int(clicks), conversions / completeness,
                                value / completeness, conversions, completeness)
    return series


def test_scope_series_sums_exactly_what_a_row_by_row_loop_summed() -> None:
    for seed in range(5):
        snap = _snapshot(_random_rows(seed))
        ids = sorted(snap.daily)
        for chosen in (ids, ids[:1], ids[3:7], [*reversed(ids)], ["missing", ids[0]]):
            assert scope_series(snap, chosen, DEFAULT_CURVE) == _row_by_row_series(snap, chosen)
        since = TODAY - timedelta(days=20)
        expected = {d: t for d, t in _row_by_row_series(snap, ids).items() if d >= since}
        assert scope_series(snap, ids, DEFAULT_CURVE, since) == expected


def test_rows_between_two_days_match_a_scan_even_when_rows_are_out_of_order() -> None:
    metric_rows = _random_rows(7)
    snap = _snapshot(metric_rows)
    shuffled = dict(snap.daily)
    shuffled["s0"] = list(reversed(shuffled["s0"]))  # not oldest first: the index must still answer
    unordered = snap.replaced(daily=shuffled)
    for snap_under_test in (snap, unordered):
        for entity_id in [*snap_under_test.daily, "missing"]:
            for start, end in ((TODAY - timedelta(days=30), TODAY), (TODAY - timedelta(days=5), TODAY - timedelta(days=5)),
                               (TODAY, TODAY - timedelta(days=3)), (date.min, date.max)):
                scanned = [r for r in snap_under_test.daily.get(entity_id, ()) if start <= r.day <= end]
                assert snap_under_test.rows(entity_id, start, end) == scanned


def test_a_changed_snapshot_shares_the_index_only_when_rows_and_day_are_the_same() -> None:
    snap = _snapshot(_random_rows(3))
    paused = snap.replaced(entities={k: e for k, e in snap.entities.items() if k != "s1"})
    assert paused.index is snap.index
    assert snap.replaced(today=TODAY + timedelta(days=1)).index is not snap.index
    assert snap.replaced(daily={}).index is not snap.index
    # Memoised answers name what they depend on besides the rows: the ad sets behind the weekday factors.
    assert weekday_factors(paused, 8) == weekday_factors(_snapshot([r for r in _random_rows(3) if r.entity_id != "s1"]), 8)


def test_evaluate_proposes_the_same_on_a_fresh_snapshot_and_on_one_whose_index_is_warm() -> None:
    budgets = [entity(f"s{i}", budget=str(50 + 10 * i)) for i in range(8)]
    data = [r for i in range(8) for r in rows(f"s{i}", 40, spend=45 + 10 * i, conversions=1 + i, value=60.0 * (1 + i))]
    settings = PolicySettings()
    cold = evaluate(snapshot(budgets, data, monthly_budget=Decimal("12000")), settings)
    warm_snapshot = snapshot(budgets, data, monthly_budget=Decimal("12000"))
    evaluate(warm_snapshot, settings)
    assert evaluate(warm_snapshot, settings) == cold
    assert cold  # the data gives the policies something to propose


def test_budget_holders_by_campaign_keep_their_active_ad_sets_in_id_order() -> None:
    entities = [entity("c1", level="campaign", parent=None, budget="100"), entity("c2", level="campaign", parent=None,
                budget="50"), entity("b", parent="c1"), entity("a", parent="c1"), entity("z", parent="c1", status="PAUSED"),
                entity("d", parent="c2")]
    by_id = {h.entity_id: h.ad_set_ids for h in budget_holders(snapshot(entities))}
    assert by_id == {"c1": ("a", "b"), "c2": ("d",)}
