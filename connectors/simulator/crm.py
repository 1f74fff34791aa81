"""The CRM side of the simulated world: every reported conversion becomes a lead that moves through
stages over weeks, written in the plain outcome mapping (docs/outcomes.md).

Lead quality differs by ad set: in each account the third of ad sets with the cheapest leads make
leads that rarely qualify (2-6 % reach SQL), the others 25-60 %. Each lead carries the click id of
its platform (gclid, fbclid or li_fat_id), self-describing (connectors/simulator/click_ids.py), except
a few that arrive without one (direct or organic: unattributed). Everything is drawn from the seed,
so the same world gives the same export. A few deliberately bad rows show the rejected-rows report.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from connectors.simulator.click_ids import SimulatedClick, encode_click_id
from connectors.simulator.money import units_per_usd

COLUMNS = ("crm_id", "stage", "stage_at", "amount", "currency", "gclid", "fbclid", "li_fat_id", "email")
CLICK_FIELD = {"google_ads": "gclid", "meta": "fbclid", "linkedin": "li_fat_id"}
DEAL_SIZE_USD = {"google_ads": 5_000, "meta": 1_500, "linkedin": 15_000}
OPPORTUNITY_CHANCE = 0.35  # of an SQL
NO_CLICK_ID_SHARE = 0.04


@dataclass(frozen=True)
class AdSetDay:
    """One simulated ad set's delivery on one day, as the platform reported it."""

    account_id: str
    platform: str  # the simulated platform: google_ads, meta or linkedin
    currency: str
    campaign_id: str
    ad_set_id: str
    day: date
    spend: Decimal
    conversions: int


def ad_set_qualities(days: Sequence[AdSetDay], seed: int) -> dict[tuple[str, str], float]:
    """Per (account, ad set): the chance a lead reaches SQL. The cheapest third of leads rarely qualify."""
    spend: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    leads: dict[tuple[str, str], int] = defaultdict(int)
    for row in days:
        spend[(row.account_id, row.ad_set_id)] += row.spend
        leads[(row.account_id, row.ad_set_id)] += row.conversions
    by_account: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (account_id, ad_set_id), total in spend.items():
        cost_per_lead = float(total) / leads[(account_id, ad_set_id)] if leads[(account_id, ad_set_id)] else 1e12
        by_account[account_id].append((cost_per_lead, ad_set_id))
    qualities: dict[tuple[str, str], float] = {}
    for account_id, ranked in by_account.items():
        ranked.sort()
        cheap = max(1, len(ranked) // 3)
        for rank, (_cost, ad_set_id) in enumerate(ranked):
            draw = random.Random(f"quality:{seed}:{account_id}:{ad_set_id}")
            qualities[(account_id, ad_set_id)] = (draw.uniform(0.02, 0.06) if rank < cheap
                                                  else draw.uniform(0.25, 0.60))
    return qualities


def _stages(draw: random.Random, quality: float, platform: str, currency: str,
            clicked: datetime) -> list[tuple[str, datetime, int]]:
    """(stage, when, amount) for one lead, the first at its click."""
    lead_at = clicked + timedelta(minutes=draw.randint(2, 180))
    stages = [("lead", lead_at, 0)]
    mql_chance = 0.5 + 0.5 * quality
    if draw.random() >= mql_chance:
        return stages
    at = lead_at + timedelta(days=draw.randint(1, 4), hours=draw.randint(0, 9))
    stages.append(("mql", at, 0))
    if draw.random() >= quality / mql_chance:
        return stages
    at += timedelta(days=draw.randint(2, 7))
    stages.append(("sql", at, 0))
    if draw.random() >= OPPORTUNITY_CHANCE:
        return stages
    at += timedelta(days=draw.randint(3, 12))
    local = DEAL_SIZE_USD[platform] * units_per_usd(currency) * draw.uniform(0.5, 1.8)
    step = 10 ** max(0, len(str(int(local))) - 3)
    amount = max(step, int(local) // step * step)
    stages.append(("opportunity", at, amount))
    close = draw.random()
    at += timedelta(days=draw.randint(7, 30))
    if close < 0.35:
        stages.append(("won", at, amount))
    elif close < 0.75:
        stages.append(("lost", at, 0))
    return stages


def lead_stages(draw: random.Random, quality: float, platform: str, currency: str,
                clicked: datetime) -> list[tuple[str, datetime, int]]:
    """(stage, when, amount) for one lead clicked at `clicked`, drawn from `draw`."""
    return _stages(draw, quality, platform, currency, clicked)


def crm_export_rows(days: Iterable[AdSetDay], seed: int, today: date) -> list[dict[str, str]]:
    """The export's rows (plain mapping columns), stages not yet reached by `today` left out, bad rows included."""
    ordered = sorted(days, key=lambda r: (r.day, r.account_id, r.ad_set_id))
    qualities = ad_set_qualities(ordered, seed)
    cutoff = datetime.combine(today, time(0), UTC)
    rows: list[tuple[datetime, dict[str, str]]] = []
    serial = 0
    for row in ordered:
        for n in range(row.conversions):
            serial += 1
            draw = random.Random(f"lead:{seed}:{row.account_id}:{row.ad_set_id}:{row.day}:{n}")
            clicked = datetime.combine(row.day, time(0), UTC) + timedelta(seconds=draw.randint(0, 86_399 - 3 * 3600))
            crm_id = f"SIM-{serial:06d}"
            click = {} if draw.random() < NO_CLICK_ID_SHARE else {CLICK_FIELD[row.platform]: encode_click_id(
                SimulatedClick(row.account_id, row.campaign_id, row.ad_set_id, row.day, n))}
            for stage, at, amount in _stages(draw, qualities[(row.account_id, row.ad_set_id)], row.platform, row.currency,
                                              clicked):
                if at >= cutoff:
                    break
                rows.append((at, {"crm_id": crm_id, "stage": stage, "stage_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  "amount": str(amount) if amount else "", "currency": row.currency if amount else "",
                                  "email": f"{crm_id.lower()}@example.com", **click}))
    rows.sort(key=lambda pair: (pair[0], pair[1]["crm_id"]))
    result = [{column: row.get(column, "") for column in COLUMNS} for _at, row in rows]
    return _with_bad_rows(result)


def _with_bad_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows a real export has too: a stage the CRM added, a missing date, an amount typed by hand."""
    blank = dict.fromkeys(COLUMNS, "")
    bad = [
        {**blank, "crm_id": "SIM-BAD-1", "stage": "demo_booked", "stage_at": "2026-01-05T10:00:00Z"},
        {**blank, "crm_id": "SIM-BAD-2", "stage": "sql", "stage_at": ""},
        {**blank, "crm_id": "SIM-BAD-3", "stage": "won", "stage_at": "2026-01-05T10:00:00Z", "amount": "12k",
         "currency": "USD"},
    ]
    for index, row in enumerate(bad, start=1):
        rows.insert(len(rows) * index // (len(bad) + 1), row)
    return rows
