"""Segment discovery from CRM outcomes: RFM groups and clusters, each with size and value."""

from __future__ import annotations

from datetime import date, timedelta

from policies.customer_segments import (
    StageRecord,
    cluster_segments,
    customers_from,
    rfm_segments,
)

TODAY = date(2026, 6, 1)


def _person(index: int, wins: list[tuple[int, float]], channel: str, lead_days_before: int = 20) -> list[StageRecord]:
    """`wins`: (days ago, amount) of each won deal; a lead stage before the first."""
    person = f"{index:064x}"  # stands for a SHA-256 of an email
    first = max(days for days, _ in wins) + lead_days_before
    return [StageRecord(person, "lead", TODAY - timedelta(days=first), None, channel),
            *[StageRecord(person, "won", TODAY - timedelta(days=days), amount, channel) for days, amount in wins]]


def crm() -> list[StageRecord]:
    """Four kinds of customers (20, 20, 40, 40), plus leads that never bought."""
    records: list[StageRecord] = []
    for i in range(20):  # champions: three recent wins of high value, from Google
        records += _person(i, [(5 + i, 900.0), (60, 1100.0), (120, 1000.0)], "google_ads", 10)
    for i in range(20, 40):  # new: one recent small win, from Meta
        records += _person(i, [(i - 18, 90.0 + i % 7)], "meta", 5)
    for i in range(40, 80):  # lapsed one-time buyers of ordinary value, from Meta
        records += _person(i, [(300 + i, 120.0 + i % 5)], "meta", 30)
    for i in range(80, 120):  # at risk: repeat buyers gone quiet, from LinkedIn
        records += _person(i, [(400 + i, 600.0), (500 + i, 700.0)], "linkedin", 90)
    for i in range(120, 160):  # leads only: not customers
        records.append(StageRecord(f"{i:064x}", "lead", TODAY - timedelta(days=i), None, "meta"))
    return records


def test_customers_are_people_with_a_won_stage() -> None:
    customers = customers_from(crm())
    assert len(customers) == 120
    champion = customers[0]
    assert champion.wins == 3 and champion.value == 3000.0 and champion.channel == "google_ads"
    assert champion.days_to_win == 10


def test_rfm_finds_the_groups_with_their_size_and_value() -> None:
    customers = customers_from(crm())
    found, left_out = rfm_segments(customers, TODAY)
    by_name = {s.name: s for s in found}
    assert len(found) == 4 and left_out == 0  # "loyal" is empty here
    assert by_name["champions"].customers == 20 and by_name["champions"].treatment == "own budget"
    assert by_name["at risk"].customers == 40 and by_name["at risk"].treatment == "own budget"
    assert by_name["new customers"].customers == 20 and by_name["new customers"].treatment == "own copy"
    assert by_name["one-time buyers"].customers == 40 and by_name["one-time buyers"].treatment == "bid down"
    champions = by_name["champions"]
    assert round(champions.share, 3) == 0.167 and champions.value == 60000.0
    assert champions.mean_low <= champions.mean_value == 3000.0 <= champions.mean_high
    assert champions.value_share > 0.45  # a sixth of the customers, nearly half the value
    assert sum(s.customers for s in found) + left_out == 120


def test_rfm_needs_enough_customers() -> None:
    few = customers_from(crm()[:20])
    assert rfm_segments(few, TODAY) == ([], len(few))


def test_clusters_separate_the_kinds_of_customers_and_say_what_they_are() -> None:
    found, left_out = cluster_segments(customers_from(crm()), TODAY)
    assert 3 <= len(found) <= 5 and left_out == 0
    top = found[0]  # highest value first
    assert top.name == "google_ads, high value, repeat buyers, recent" and top.treatment == "own budget"
    assert len({s.name for s in found}) == len(found)  # each cluster named apart
    assert top.customers == 20 and "mostly from google_ads" in top.description
    assert found[-1].treatment == "bid down"
    assert sum(s.customers for s in found) == 120


def test_clustering_is_deterministic() -> None:
    customers = customers_from(crm())
    assert cluster_segments(customers, TODAY) == cluster_segments(list(customers), TODAY)
