"""Outcome metrics per platform, account, campaign or ad set: spend, leads, CPQL, pipeline and ROAS.

Spend comes from the platforms' ad-set rows; leads and stages from the attributed CRM records. A
record counts once per stage it reached (a won deal also reached opportunity, SQL, MQL and lead).
Pipeline is the opportunity amount (the won amount when no opportunity was recorded); won is the won
amount. Everything is in the reporting currency, converted with `reporting.fx_rates`. `since`
selects spend by day and records by click day (cohorts); unattributed records by their first stage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection

from agent.config import AgentConfig
from agent.outcomes.attribution import display_platform
from agent.outcomes.settings import FUNNEL
from agent.outcomes.store import attributed_outcomes
from agent.storage import store
from agent.storage.action_states import as_utc

Grouping = Literal["platform", "account", "campaign", "ad_set"]
LEVELS: tuple[Grouping, ...] = ("platform", "account", "campaign", "ad_set")
CENT = Decimal("0.01")


class ReportError(ValueError):
    """The report cannot be made as configured (a missing exchange rate); the message says what to set."""


@dataclass
class Figures:
    spend: Decimal = Decimal(0)
    leads: int = 0
    qualified_leads: int = 0
    opportunities: int = 0
    pipeline: Decimal = Decimal(0)
    won: Decimal = Decimal(0)
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class _Record:
    stages: set[str] = field(default_factory=set)
    first_day: date | None = None
    opportunity: Decimal | None = None
    won: Decimal | None = None
    key: tuple[str | None, ...] = ()
    reason: str | None = None


class _Rates:
    def __init__(self, config: AgentConfig) -> None:
        self.currency, self.rates = config.reporting.currency, config.reporting.fx_rates

    def convert(self, amount: Decimal, currency: str | None) -> Decimal:
        if currency is None or currency == self.currency:
            return amount
        if currency not in self.rates:
            raise ReportError(f"no exchange rate for {currency}: set reporting.fx_rates.{currency} "
                              f"(units of {self.currency} per {currency})")
        return amount * self.rates[currency]


def _key(values: Sequence[str | None], by: Grouping) -> tuple[str | None, ...]:
    depth = LEVELS.index(by) + 1
    return tuple(values[:depth]) + (None,) * (len(LEVELS) - depth)


def outcome_report(connection: Connection, config: AgentConfig, by: Grouping = "platform",
                   since: date | None = None) -> dict[str, Any]:
    """`{"rows": [...], "unattributed": {...}}` with money as strings and ratios as floats (null: no denominator)."""
    rates = _Rates(config)
    figures: dict[tuple[str | None, ...], Figures] = defaultdict(Figures)
    _add_spend(connection, config, rates, by, since, figures)
    records = _records(connection, rates, by, {account.id for account in config.accounts})
    qualified_rank = FUNNEL.index(config.outcomes.qualified_stage)
    unattributed = Figures()
    for record in records.values():
        if record.reason is not None:
            if since is not None and record.first_day is not None and record.first_day < since:
                continue
            target = unattributed
            unattributed.reasons[record.reason] = unattributed.reasons.get(record.reason, 0) + 1
        else:
            if since is not None and (record.first_day is None or record.first_day < since):
                continue
            target = figures[record.key]
        _count(target, record, qualified_rank)
    rows = [_row(key, value, rates.currency) for key, value in sorted(figures.items(), key=lambda kv: _sort(kv[0]))]
    extra = {"reasons": dict(sorted(unattributed.reasons.items())), "currency": rates.currency}
    return {"rows": rows, "unattributed": {**_money_fields(unattributed), **extra}}


def _sort(key: tuple[str | None, ...]) -> tuple[str, ...]:
    return tuple(part or "" for part in key)


def _add_spend(connection: Connection, config: AgentConfig, rates: _Rates, by: Grouping, since: date | None,
               figures: dict[tuple[str | None, ...], Figures]) -> None:
    platforms = {account.id: display_platform(account) for account in config.accounts}
    parents = store.ad_set_parents(connection)
    for row in store.ad_set_spend_rows(connection, since):
        if row.account_id not in platforms:  # an account no longer configured, or one this reader may not see
            continue
        platform = platforms[row.account_id]
        values = (platform, row.account_id, parents.get((row.account_id, row.entity_id)), row.entity_id)
        figures[_key(values, by)].spend += rates.convert(row.spend, row.currency)


def _records(connection: Connection, rates: _Rates, by: Grouping, accounts: set[str]) -> dict[str, _Record]:
    records: dict[str, _Record] = defaultdict(_Record)
    for row in attributed_outcomes(connection):
        if row["method"] != "unattributed" and row["account_id"] not in accounts:
            continue
        record = records[row["crm_id"]]
        record.stages.add(row["stage"])
        day = as_utc(row["stage_at"]).date()
        if row["method"] == "unattributed":
            record.reason = row["reason"] or "unattributed"
            record.first_day = min(day, record.first_day) if record.first_day else day
        else:
            record.first_day = row["click_day"]
            record.key = _key((row["platform"], row["account_id"], row["campaign_id"], row["ad_set_id"]), by)
        if row["amount"] is not None and row["stage"] in ("opportunity", "won"):
            amount = rates.convert(row["amount"], row["currency"])
            setattr(record, row["stage"], amount)
    return records


def _count(target: Figures, record: _Record, qualified_rank: int) -> None:
    reached = max((FUNNEL.index(stage) for stage in record.stages if stage in FUNNEL), default=0)
    target.leads += 1
    target.qualified_leads += reached >= qualified_rank
    target.opportunities += reached >= FUNNEL.index("opportunity")
    pipeline = record.opportunity if record.opportunity is not None else record.won
    target.pipeline += pipeline or Decimal(0)
    target.won += record.won if record.won is not None and "won" in record.stages else Decimal(0)


def _ratio(numerator: Decimal, denominator: Decimal | int) -> float | None:
    return None if not denominator else round(float(numerator / Decimal(denominator)), 4)


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _money_fields(f: Figures) -> dict[str, Any]:
    return {"leads": f.leads, "qualified_leads": f.qualified_leads, "opportunities": f.opportunities,
            "pipeline": _money(f.pipeline), "won": _money(f.won)}


def _row(key: tuple[str | None, ...], f: Figures, currency: str) -> dict[str, Any]:
    cpql = None if not f.qualified_leads else _money(f.spend / f.qualified_leads)
    return {"platform": key[0], "account": key[1], "campaign": key[2], "ad_set": key[3],
            "spend": _money(f.spend), "leads": f.leads, "qualified_leads": f.qualified_leads, "cpql": cpql,
            "opportunities": f.opportunities, "pipeline": _money(f.pipeline), "won": _money(f.won),
            "pipeline_roas": _ratio(f.pipeline, f.spend), "won_roas": _ratio(f.won, f.spend), "currency": currency}


def rows_as_text(report: Mapping[str, Any], by: Grouping, qualified_stage: str, since: date | None = None) -> list[str]:
    """Aligned lines for a terminal; the header states what the figures rest on."""
    rows = report["rows"]
    unattributed = report["unattributed"]
    label = {"platform": "platform", "account": "account", "campaign": "campaign", "ad_set": "ad set"}[by]
    cohort = f"clicks since {since}" if since else "all clicks"
    lines = [f"outcomes by {label}, {cohort} (attribution: last paid touch; qualified = {qualified_stage}; "
             f"money in {unattributed['currency']}; CRM stages still arriving for recent clicks)",
             f"{label:<28} {'spend':>12} {'leads':>6} {'qual.':>6} {'CPQL':>10} {'opps':>5} "
             f"{'pipeline':>12} {'won':>12} {'pipe ROAS':>9} {'won ROAS':>8}"]
    for row in rows:
        name = row[{"platform": "platform", "account": "account", "campaign": "campaign", "ad_set": "ad_set"}[by]]
        name = f"{row['platform']}/{name}" if by != "platform" else name
        lines.append(f"{str(name)[:28]:<28} {row['spend']:>12} {row['leads']:>6} {row['qualified_leads']:>6} "
                     f"{row['cpql'] or '–':>10} {row['opportunities']:>5} {row['pipeline']:>12} {row['won']:>12} "
                     f"{_fmt(row['pipeline_roas']):>9} {_fmt(row['won_roas']):>8}")
    reasons = ", ".join(f"{reason}: {count}" for reason, count in unattributed["reasons"].items()) or "none"
    lines.append(f"unattributed: {unattributed['leads']} leads, {unattributed['qualified_leads']} qualified, "
                 f"pipeline {unattributed['pipeline']}, won {unattributed['won']} ({reasons})")
    return lines


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
