"""A B2B simulated world with a CRM behind it, for backtests of outcome objectives.

Four advertisers selling to businesses: LinkedIn lead gen (leads without any reported value, the
richest pipeline), a second LinkedIn account, Google search (leads near 90-120 USD) and Meta lead
ads. Every platform-reported conversion is a lead that moves through CRM stages over weeks
(`connectors.simulator.crm`). Lead quality is a property of the ad set, fixed once per world: in each
account the third of ad sets with the cheapest leads at launch make leads that rarely qualify.
Everything is drawn from the seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from connectors.records import MetricRow
from connectors.simulator.click_ids import SimulatedClick, encode_click_id
from connectors.simulator.crm import CLICK_FIELD, AdSetDay, ad_set_qualities, lead_stages
from connectors.simulator.dynamics import simulate
from connectors.simulator.money import units_per_usd
from connectors.simulator.world import SimAccountSpec, World

B2B_SPECS: tuple[SimAccountSpec, ...] = (
    SimAccountSpec("b2b-linkedin-us", "linkedin", "B2B Lead Gen US (LinkedIn)", "USD", "America/New_York",
                   b2b=True, reports_value=False),
    SimAccountSpec("b2b-linkedin-uk", "linkedin", "B2B Lead Gen UK (LinkedIn)", "GBP", "Europe/London",
                   campaigns=2, b2b=True, reports_value=False),
    SimAccountSpec("b2b-google-us", "google_ads", "B2B Search US (Google)", "USD", "America/Chicago", b2b=True),
    SimAccountSpec("b2b-meta-us", "meta", "B2B Lead Ads US (Meta)", "USD", "America/Los_Angeles", b2b=True),
)
QUALITY_DAYS = 28  # lead quality is ranked on the first four weeks' cost per lead, with no agent acting


@dataclass(frozen=True)
class SimulatedStage:
    """One CRM stage of one simulated lead."""

    crm_id: str
    stage: str
    at: datetime
    amount: int  # account currency, 0 below opportunity
    currency: str
    click_field: str | None  # gclid, fbclid or li_fat_id; None for the few leads without a click id
    click_id: str | None
    account_id: str
    ad_set_id: str
    click_day: date


def _ad_set_days(world: World, metrics: Iterable[MetricRow], until: date) -> list[AdSetDay]:
    parents = {s.ad_set_id: s.campaign_id for s in world.ad_sets_by_id.values()}
    result = []
    for row in metrics:
        if row.level == "ad_set" and row.day < until and row.conversions >= 1:
            account = world.account(row.account_id)
            result.append(AdSetDay(row.account_id, account.platform, account.currency, parents[row.entity_id],
                                   row.entity_id, row.day, row.spend, int(row.conversions)))
    return result


def lead_qualities(world: World) -> dict[tuple[str, str], float]:
    """Per (account, ad set): the chance a lead reaches SQL, ranked on the unmanaged first weeks."""
    until = world.start + timedelta(days=QUALITY_DAYS)
    baseline = simulate(world, [], until + timedelta(days=QUALITY_DAYS + 1))
    qualities = ad_set_qualities(_ad_set_days(world, baseline.metrics, until), world.seed)
    return {(s.account_id, s.ad_set_id): qualities.get((s.account_id, s.ad_set_id), 0.3)
            for s in world.ad_sets_by_id.values()}


def lead_stages_of(world: World, metrics: Iterable[MetricRow], qualities: Mapping[tuple[str, str], float],
                   since: date, until: date) -> list[SimulatedStage]:
    """Every stage (however far in the future) of the leads clicked on `since <= day < until`, from
    matured metrics (a lead is a platform conversion). The same lead always gets the same stages."""
    stages: list[SimulatedStage] = []
    for row in _ad_set_days(world, metrics, until):
        if row.day < since:
            continue
        for n in range(row.conversions):
            draw = random.Random(f"b2b-lead:{world.seed}:{row.account_id}:{row.ad_set_id}:{row.day}:{n}")
            clicked = datetime.combine(row.day, time(0), UTC) + timedelta(seconds=draw.randint(0, 86_399 - 3 * 3600))
            crm_id = f"SIM-{row.ad_set_id}-{row.day:%Y%m%d}-{n}"
            with_click = draw.random() >= 0.04
            click_id = encode_click_id(SimulatedClick(row.account_id, row.campaign_id, row.ad_set_id, row.day, n))
            for stage, at, amount in lead_stages(draw, qualities[(row.account_id, row.ad_set_id)], row.platform,
                                                  row.currency, clicked):
                stages.append(SimulatedStage(crm_id, stage, at, amount, row.currency,
                                             CLICK_FIELD[row.platform] if with_click else None,
                                             click_id if with_click else None, row.account_id, row.ad_set_id,
                                             row.day))
    return stages


def pipeline_usd(world: World, stages: Sequence[SimulatedStage]) -> float:
    """Pipeline of these stages in US dollars: each record's opportunity amount (won, if it skipped it)."""
    by_record: dict[str, Decimal] = {}
    for stage in stages:
        if stage.stage in ("opportunity", "won") and stage.amount:
            rate = units_per_usd(world.account(stage.account_id).currency)
            by_record.setdefault(stage.crm_id, Decimal(stage.amount) / Decimal(str(rate)))
    return float(sum(by_record.values(), Decimal(0)))


# Targets a B2B advertiser would set (account currency): cost per lead near each account's usual CPL,
# cost per qualified lead, pipeline ROAS. What `backtest --world b2b --objective KIND` uses by default.
B2B_TARGETS: dict[str, dict[str, float]] = {
    "platform_cpa": {"b2b-linkedin-us": 110, "b2b-linkedin-uk": 75, "b2b-google-us": 120, "b2b-meta-us": 75},
    "cpql": {"b2b-linkedin-us": 400, "b2b-linkedin-uk": 320, "b2b-google-us": 450, "b2b-meta-us": 300},
    "pipeline_roas": dict.fromkeys(("b2b-linkedin-us", "b2b-linkedin-uk", "b2b-google-us", "b2b-meta-us"), 4.0),
    "platform_roas": dict.fromkeys(("b2b-google-us", "b2b-meta-us"), 2.0),
}
