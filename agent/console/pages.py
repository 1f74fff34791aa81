"""The context of each performance page (overview, account, campaign, pacing), from `figures`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from agent.config import AgentConfig
from agent.console.charts import Series, line_chart
from agent.console.figures import AccountData, Figures, Period, blend, fx_rate
from connectors.records import Entity
from policies import pacing_report


@dataclass(frozen=True)
class Filters:
    """What a page was asked to show: a date range and the platform, account and status filters."""

    start: str = ""
    end: str = ""
    platform: str = ""
    account: str = ""
    status: str = ""
    kind: str = ""

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Filters:
        def text(name: str) -> str:
            return str(query.get(name, "")).strip()[:64]

        return cls(start=text("from"), end=text("to"), platform=text("platform"), account=text("account"),
                   status=text("status").lower(), kind=text("kind"))

    def query(self) -> str:
        pairs = {"from": self.start, "to": self.end, "platform": self.platform, "account": self.account,
                 "status": self.status, "kind": self.kind}
        return urlencode({key: value for key, value in pairs.items() if value})

    def with_period(self, period: Period) -> Filters:
        return Filters(start=period.start.isoformat(), end=period.end.isoformat(), platform=self.platform,
                       account=self.account, status=self.status, kind=self.kind)


def platform_of(data: AccountData) -> str:
    return data.snapshot.platform if data.snapshot.platform != "simulator" else (
        data.account.simulate or data.snapshot.platform)


def _period_text(period: Period) -> str:
    return f"{period.start:%d %b %Y} – {period.end:%d %b %Y} ({len(period.days)} days)"


def _chart(title: str, days: Sequence[str], spend: Sequence[float], value: Sequence[float],
           estimated: Sequence[float], incomplete: Sequence[bool], currency: str) -> str:
    spend_chart = line_chart(f"{title}: daily spend ({currency})", days, [Series("spend", spend)], currency,
                             incomplete)
    roas = [float(v / s) if s else None for v, s in zip(value, spend, strict=True)]
    roas_estimated = [float(v / s) if s else None for v, s in zip(estimated, spend, strict=True)]
    roas_chart = line_chart(f"{title}: daily ROAS", days, [Series("ROAS reported", roas),
                            Series("ROAS estimated (late conversions)", roas_estimated, dashed=True)],
                            "ROAS", incomplete, value_format="{:.2f}")
    return spend_chart + roas_chart


def overview(datas: Sequence[AccountData], config: AgentConfig, filters: Filters, today: date) -> dict[str, Any]:
    """Accounts' figures over the period, totals per currency and blended, and a daily chart.
    The period ends on the latest account's yesterday (`today` minus one without accounts)."""
    shown = [d for d in datas if (not filters.platform or platform_of(d) == filters.platform)
             and (not filters.account or d.account.id == filters.account)]
    latest = max((d.yesterday for d in datas), default=today - timedelta(days=1))
    period = Period.parse(filters.start, filters.end, latest)
    rows = [d.figures("account", d.account.id, d.account.name or d.account.id, "", d.ad_sets(filters.status), period)
            for d in shown]
    per_currency, overall, missing = blend(rows, config)
    currency = overall.currency if overall else (per_currency[0].currency if per_currency else "")
    totals: dict[str, list[Decimal]] = {"spend": [], "value": [], "estimated": []}
    incomplete: list[bool] = []
    for day in period.days:
        spend = value = estimated = Decimal(0)
        late = False
        for data in shown:
            rate = fx_rate(config, data.account.currency) if overall else (
                Decimal(1) if data.account.currency == currency else None)
            if rate is None:
                continue
            point = data.series(data.ad_sets(filters.status), Period(day, day))[0]
            spend += point.spend * rate
            value += point.value * rate
            estimated += point.estimated_value * rate
            late = late or point.incomplete
        totals["spend"].append(spend)
        totals["value"].append(value)
        totals["estimated"].append(estimated)
        incomplete.append(late)
    days = [d.isoformat() for d in period.days]
    scope = "all accounts" if overall else f"accounts in {currency}"
    chart = _chart(scope.capitalize(), days, [float(s) for s in totals["spend"]], [float(v) for v in totals["value"]],
                   [float(v) for v in totals["estimated"]], incomplete, currency) if currency else ""
    return {"rows": rows, "per_currency": per_currency, "overall": overall, "missing_rates": missing,
            "reporting_currency": config.reporting.currency, "chart": chart, "period_text": _period_text(period),
            "filters": filters.with_period(period), "links": {d.account.id: f"/accounts/{d.account.id}?"
                                                             f"{filters.with_period(period).query()}" for d in shown},
            "platforms_of": {d.account.id: platform_of(d) for d in shown},
            "lag_notes": [lag_note(d) for d in shown]}


def lag_note(data: AccountData) -> str:
    """Where the account's lag curve comes from, and how complete its yesterday is."""
    source = {"default": "a conservative default (too few revisions of this account's conversions yet)",
              "estimated": "estimated from this account's own late conversions"}.get(
                  data.curve.source, f"{data.curve.source} from this account's late conversions")
    return (f"{data.account.name or data.account.id}: lag curve {source}; yesterday "
            f"{data.completeness(data.yesterday) * 100:.0f}% reported, days older than "
            f"{next((age for age in range(60) if data.curve.at(age) >= 0.995), 28)} complete")


def _children(data: AccountData, parent: Entity | None, status: str) -> list[Entity]:
    if parent is None:
        return data.campaigns(status)
    return [e for e in data.ad_sets(status) if e.parent_id == parent.entity_id]


def drill_down(data: AccountData, campaign: Entity | None, filters: Filters) -> dict[str, Any]:
    """An account's campaigns, or a campaign's ad sets, over the period, with the parent's chart."""
    period = Period.parse(filters.start, filters.end, data.yesterday)
    shown = filters.with_period(period)
    rows: list[Figures] = []
    links: dict[str, str] = {}
    for entity in _children(data, campaign, filters.status):
        ad_sets = [entity] if entity.level == "ad_set" else [
            e for e in data.ad_sets() if e.parent_id == entity.entity_id]
        rows.append(data.figures(entity.level, entity.entity_id, entity.name, entity.status, ad_sets, period,
                                 entity.daily_budget))
        if entity.level == "campaign":
            links[entity.entity_id] = f"/accounts/{data.account.id}/campaigns/{entity.entity_id}?{shown.query()}"
    rows.sort(key=lambda row: -row.spend)
    ad_sets = [e for e in data.ad_sets(filters.status) if campaign is None or e.parent_id == campaign.entity_id]
    points = data.series(ad_sets, period)
    account = data.account
    name = campaign.name if campaign else (account.name or account.id)
    chart = _chart(name, [p.day.isoformat() for p in points], [float(p.spend) for p in points],
                   [float(p.value) for p in points], [float(p.estimated_value) for p in points],
                   [p.incomplete for p in points], account.currency)
    return {"rows": rows, "links": links, "platforms_of": {}, "chart": chart, "filters": shown,
            "query": shown.query(), "account": account, "campaign": campaign,
            "heading": f"Campaign {campaign.name}" if campaign else f"Account {account.name or account.id}",
            "first_column": "Ad set" if campaign else "Campaign",
            "table_title": "Ad sets" if campaign else "Campaigns",
            "account_line": (f"{platform_of(data)} · {account.currency} · times and days in {account.timezone} · "
                             f"{_period_text(period)}"), "lag_notes": [lag_note(data)]}


def pacing_rows(datas: Sequence[AccountData], config: AgentConfig) -> list[dict[str, Any]]:
    rows = []
    for data in datas:
        report = None
        if data.snapshot.monthly_budget:
            report = pacing_report(data.snapshot, config.policy_settings(data.account).pacing)
        rows.append({"name": data.account.name or data.account.id, "report": report})
    return rows
