"""The numbers behind the dashboard and the pacing report, read from our store.

Figures are for the account's "yesterday" (the last complete day in its time zone), with the
change from the day before and from the baseline (the average day of the 28 before it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from agent.clock import Clock, local_today
from agent.config import AccountConfig, AgentConfig
from agent.cycle.optional_reads import latest_notes
from agent.decisions.gate import kinds_on_auto
from agent.decisions.snapshots import load_snapshot
from agent.storage.action_states import list_actions
from agent.storage.claims import stuck_actions
from connectors.records import MetricRow
from policies import AnomalyFlag, PacingReport, detect_anomalies, pacing_outlook
from policies.base import Proposal, Snapshot, Totals
from policies.creative_fatigue import propose_creative_refresh

BASELINE_DAYS = 28
CHART_DAYS = 30


@dataclass(frozen=True)
class Line:
    """One row of the performance table: a day's totals with its changes."""

    level: str
    entity_id: str
    name: str
    status: str
    day: Totals
    previous: Totals
    baseline_spend: Decimal
    baseline_roas: float | None

    @staticmethod
    def _change(now: float | None, before: float | None) -> float | None:
        if now is None or not before:
            return None
        return (now - before) / before * 100

    @property
    def spend_dod(self) -> float | None:
        return self._change(float(self.day.spend), float(self.previous.spend))

    @property
    def roas_dod(self) -> float | None:
        return self._change(self.day.roas, self.previous.roas)

    @property
    def spend_vs_baseline(self) -> float | None:
        return self._change(float(self.day.spend), float(self.baseline_spend))

    @property
    def roas_vs_baseline(self) -> float | None:
        return self._change(self.day.roas, self.baseline_roas)


@dataclass
class AccountView:
    account_id: str
    name: str
    platform: str
    currency: str
    day: date
    total: Line
    campaigns: list[Line]
    ad_sets: list[Line]
    flags: list[AnomalyFlag]
    pacing: PacingReport | None
    fatigue: list[Proposal]
    chart_days: list[str]
    spend_series: list[float | None]
    roas_series: list[float | None]
    notes: list[str] = field(default_factory=list)  # optional reads that failed in the latest cycle


@dataclass
class Dashboard:
    generated_at: datetime
    accounts: list[AccountView]
    blended: dict[str, Blended]
    pending: list[dict[str, Any]] = field(default_factory=list)
    executed: list[dict[str, Any]] = field(default_factory=list)
    stuck: list[dict[str, Any]] = field(default_factory=list)  # executing, claimant dead or past its lease


def _rows_by_day(rows: Sequence[MetricRow]) -> dict[date, list[MetricRow]]:
    by_day: dict[date, list[MetricRow]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(row)
    return by_day


def _line(level: str, entity_id: str, name: str, status: str, rows: Sequence[MetricRow], day: date) -> Line:
    by_day = _rows_by_day(rows)
    baseline_days = [day - timedelta(days=n) for n in range(1, BASELINE_DAYS + 1)]
    baseline = Totals.of([r for d in baseline_days for r in by_day.get(d, [])])
    return Line(
        level=level, entity_id=entity_id, name=name, status=status,
        day=Totals.of(by_day.get(day, [])), previous=Totals.of(by_day.get(day - timedelta(days=1), [])),
        baseline_spend=baseline.spend / BASELINE_DAYS, baseline_roas=baseline.roas,
    )


def account_view(snapshot: Snapshot, account: AccountConfig, config: AgentConfig) -> AccountView:
    day = snapshot.today - timedelta(days=1)
    ad_sets = [e for e in snapshot.entities.values() if e.level == "ad_set"]
    rows_of = {e.entity_id: list(snapshot.daily.get(e.entity_id, ())) for e in ad_sets}
    ad_set_lines = [_line("ad_set", e.entity_id, e.name, e.status, rows_of[e.entity_id], day) for e in ad_sets]
    campaign_lines = []
    for campaign in (e for e in snapshot.entities.values() if e.level == "campaign"):
        rows = [r for e in ad_sets if e.parent_id == campaign.entity_id for r in rows_of[e.entity_id]]
        campaign_lines.append(_line("campaign", campaign.entity_id, campaign.name, campaign.status, rows, day))
    all_rows = [r for rows in rows_of.values() for r in rows]
    settings = config.policy_settings(account)
    by_day = _rows_by_day(all_rows)
    chart_days = [day - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    totals = [Totals.of(by_day.get(d, [])) for d in chart_days]
    return AccountView(
        account_id=account.id, name=account.name or account.id, platform=snapshot.platform,
        currency=account.currency, day=day,
        total=_line("account", account.id, account.name or account.id, "", all_rows, day),
        campaigns=sorted(campaign_lines, key=lambda line: -line.day.spend),
        ad_sets=sorted(ad_set_lines, key=lambda line: -line.day.spend),
        flags=sorted(detect_anomalies(snapshot, settings.anomalies), key=lambda f: (f.day, f.severity), reverse=True),
        pacing=pacing_outlook(snapshot, settings, kinds_on_auto(account, config)) if snapshot.monthly_budget else None,
        fatigue=propose_creative_refresh(snapshot, settings.creative_fatigue),
        chart_days=[d.isoformat() for d in chart_days],
        spend_series=[float(t.spend) if t.days else None for t in totals],
        roas_series=[t.roas for t in totals],
    )


@dataclass(frozen=True)
class Blended:
    spend: Decimal
    value: Decimal

    @property
    def roas(self) -> float | None:
        return float(self.value / self.spend) if self.spend else None


def _blended(accounts: Sequence[AccountView], config: AgentConfig) -> dict[str, Blended]:
    """Yesterday's ROAS across platforms, per currency (ratios never mix currencies unconverted),
    and in the reporting currency when exchange rates are configured."""
    by_currency: dict[str, list[Totals]] = defaultdict(list)
    for view in accounts:
        by_currency[view.currency].append(view.total.day)
    blended = {
        currency: Blended(spend=sum((d.spend for d in days), Decimal(0)),
                          value=sum((d.conversion_value for d in days), Decimal(0)))
        for currency, days in by_currency.items()
    }
    reporting = config.reporting
    if reporting.fx_rates and all(c == reporting.currency or c in reporting.fx_rates for c in by_currency):
        def rate(currency: str) -> Decimal:
            return Decimal(1) if currency == reporting.currency else reporting.fx_rates[currency]

        blended[f"all ({reporting.currency})"] = Blended(
            spend=sum((b.spend * rate(c) for c, b in blended.items()), Decimal(0)),
            value=sum((b.value * rate(c) for c, b in blended.items()), Decimal(0)),
        )
    return blended


def build_dashboard(engine: Engine, config: AgentConfig, clock: Clock) -> Dashboard:
    views = []
    for account in config.accounts:
        snapshot = load_snapshot(engine, account, local_today(clock, account.timezone), clock)
        if snapshot.entities:
            views.append(account_view(snapshot, account, config))
            with engine.connect() as connection:
                views[-1].notes = latest_notes(connection, account.id)
    with engine.connect() as connection:
        pending = [dict(a) for a in list_actions(connection, "pending_approval")]
        executed = [dict(a) for a in list_actions(connection, "executed")][-20:][::-1]
        stuck = [dict(a) for a in stuck_actions(connection, clock.now())]
    return Dashboard(generated_at=clock.now(), accounts=views, blended=_blended(views, config), pending=pending,
                     executed=executed, stuck=stuck)
