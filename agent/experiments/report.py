"""The impact report: what the agent's actions earned, per action kind, and how sure we are.

Built from the experiments past their horizon and conversion lag (agent/experiments/panel.py),
estimated by policies/impact.py, pooled over the accounts in the reporting currency (converted with
`reporting.fx_rates`; an account whose currency has no rate gets a report of its own). A kind whose interval lies wholly below
zero is flagged, with the recommendation to lower its permission (a person edits the config).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from agent.config import AgentConfig
from agent.experiments.panel import measured_outcomes
from agent.experiments.store import experiments_since
from agent.storage.action_states import as_utc
from connectors.records import quantize_money
from policies.impact import METRICS, KindEffect, estimate_effects

CONFIDENCE = 0.9
FEW_HELD_OUT = 10  # held-out units (entities, or campaigns drawn whole) below which the interval tends to be too
# narrow (docs/experiments.md)


@dataclass(frozen=True)
class ImpactReport:
    """One currency's estimates: surplus per kind, the other metrics beside it, and the draws to come."""

    currency: str
    as_of: datetime
    since: datetime | None
    surplus: list[KindEffect]
    other: dict[str, dict[str, KindEffect]] = field(default_factory=dict)  # metric -> kind -> effect
    waiting: dict[str, int] = field(default_factory=dict)  # kind -> experiments not yet measurable

    @property
    def harmful(self) -> list[KindEffect]:
        return [effect for effect in self.surplus if effect.harmful]

    def total(self) -> dict[str, Any]:
        """Sum of the kinds' monthly effects; its interval treats the kinds as independent (normal
        approximation: half-widths added in quadrature)."""
        measured = [e for e in self.surplus if e.effect_per_month is not None]
        effect = sum((e.effect_per_month or 0.0) for e in measured)
        below = math.sqrt(sum(((e.effect_per_month or 0) - (e.low or 0)) ** 2 for e in measured))
        above = math.sqrt(sum(((e.high or 0) - (e.effect_per_month or 0)) ** 2 for e in measured))
        return {"effect_per_month": _money(effect, self.currency), "low": _money(effect - below, self.currency),
                "high": _money(effect + above, self.currency), "metric": "surplus", "kinds_measured": len(measured)}


def _money(amount: float | None, currency: str) -> str | None:
    return None if amount is None else str(quantize_money(Decimal(str(round(amount, 6))), currency))


def impact_reports(connection: Connection, config: AgentConfig, now: datetime,
                   since: datetime | None = None, seed: int = 0) -> list[ImpactReport]:
    """One report in the reporting currency (accounts converted with `reporting.fx_rates`), and one
    per currency that has no rate, for the configured accounts that have experiments."""
    accounts = {account.id: account for account in config.accounts}
    rows = experiments_since(connection, since, accounts=list(accounts))
    timezones = {account_id: account.timezone for account_id, account in accounts.items()}
    reporting = config.reporting
    currency_of, rates = {}, {}
    for account_id, account in accounts.items():
        convertible = account.currency == reporting.currency or account.currency in reporting.fx_rates
        currency_of[account_id] = reporting.currency if convertible else account.currency
        rates[account_id] = (1.0 if account.currency == reporting.currency or not convertible
                             else float(reporting.fx_rates[account.currency]))
    by_currency: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_currency[currency_of[row["account_id"]]].append(row)
    target = config.experiments.target_roas
    reports = []
    for currency, currency_rows in sorted(by_currency.items(), key=lambda item: item[0] != reporting.currency):
        outcomes = measured_outcomes(connection, currency_rows, timezones, now, rates)
        waiting: dict[str, int] = defaultdict(int)
        for row in currency_rows:
            if as_utc(row["measure_after"]) > now:
                waiting[row["kind"]] += 1
        other = {metric: {e.kind: e for e in estimate_effects(outcomes, target_roas=target, metric=metric,
                                                                confidence=CONFIDENCE, seed=seed)}
                 for metric in METRICS if metric != "surplus"}
        reports.append(ImpactReport(currency=currency, as_of=now, since=since, other=other, waiting=dict(waiting),
                                    surplus=estimate_effects(outcomes, target_roas=target, confidence=CONFIDENCE,
                                                             seed=seed)))
    return reports


def recommendation(effect: KindEffect) -> str:
    return (f"{effect.kind}: the whole {CONFIDENCE:.0%} interval of its effect lies below zero: its actions cost "
            f"more than they earned. Consider lowering its permission (permissions.{effect.kind}: propose or "
            "observe) in the config.")


def _kind_json(effect: KindEffect, report: ImpactReport) -> dict[str, Any]:
    currency = report.currency
    return {
        "kind": effect.kind, "n_treated": effect.n_treated, "n_held_out": effect.n_held_out,
        "n_treated_clusters": effect.n_treated_clusters, "n_held_out_clusters": effect.n_held_out_clusters,
        "effect_per_month": _money(effect.effect_per_month, currency), "low": _money(effect.low, currency),
        "high": _money(effect.high, currency), "metric": "surplus", "harmful": effect.harmful,
        "few_held_out": effect.n_held_out_clusters < FEW_HELD_OUT,
        "other_metrics": {metric: {"effect_per_month": _rounded(kinds[effect.kind].effect_per_month),
                                   "low": _rounded(kinds[effect.kind].low), "high": _rounded(kinds[effect.kind].high)}
                          for metric, kinds in report.other.items() if effect.kind in kinds},
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def report_json(report: ImpactReport) -> dict[str, Any]:
    return {
        "kinds": [_kind_json(effect, report) for effect in report.surplus],
        "total_per_month": report.total(),
        "currency": report.currency,
        "as_of": report.as_of.isoformat(),
        "since": report.since.isoformat() if report.since else None,
        "confidence": CONFIDENCE,
        "waiting_for_horizon": report.waiting,
        "recommendations": [recommendation(e) for e in report.harmful],
    }


def impact_json(reports: list[ImpactReport], fallback_currency: str) -> dict[str, Any]:
    """The reporting currency's report at the top level (the documented shape); the report of any
    currency without an exchange rate under `other_currencies`."""
    if not reports:
        return {"kinds": [], "total_per_month": None, "currency": fallback_currency, "waiting_for_horizon": {},
                "recommendations": [], "confidence": CONFIDENCE}
    first, *rest = reports
    body = report_json(first)
    if rest:
        body["other_currencies"] = [report_json(r) for r in rest]
    return body


def _counts_text(effect: KindEffect) -> str:
    counts = f"{effect.n_treated} treated, {effect.n_held_out} held out"
    if (effect.n_treated_clusters, effect.n_held_out_clusters) != (effect.n_treated, effect.n_held_out):
        counts += f" (units drawn: {effect.n_treated_clusters} treated, {effect.n_held_out_clusters} held out)"
    return counts


def _interval_text(effect: KindEffect, currency: str) -> str:
    if effect.effect_per_month is None:
        return f"not enough units yet ({_counts_text(effect)}; 2 units each needed)"
    caveat = "; few held out: the interval is likely too narrow" if effect.n_held_out_clusters < FEW_HELD_OUT else ""
    return (f"{_money(effect.effect_per_month, currency)} {currency}/month "
            f"({CONFIDENCE:.0%} interval {_money(effect.low, currency)} to {_money(effect.high, currency)}; "
            f"{_counts_text(effect)}{caveat})")


def render_text(reports: list[ImpactReport]) -> str:
    """The impact section of the weekly report, and `report impact --format text`."""
    lines = ["What the agent's actions earned (randomized holdouts; surplus = value - target ROAS x spend)"]
    if not reports:
        return "\n".join([*lines, "  no experiment yet: nothing has been drawn.", ""])
    for report in reports:
        lines.append(f"  {report.currency}, as of {report.as_of:%Y-%m-%d %H:%M} UTC"
                     + (f", actions since {report.since:%Y-%m-%d}" if report.since else ""))
        for effect in report.surplus:
            lines.append(f"    {effect.kind:<22} {_interval_text(effect, report.currency)}")
        total = report.total()
        if total["kinds_measured"]:
            lines.append(f"    {'total':<22} {total['effect_per_month']} {report.currency}/month "
                         f"(about {total['low']} to {total['high']})")
        for kind, count in sorted(report.waiting.items()):
            lines.append(f"    {kind:<22} {count} experiment(s) still inside horizon + conversion lag")
        lines += [f"    WARNING {recommendation(e)}" for e in report.harmful]
    return "\n".join(lines) + "\n"


def render_csv(reports: list[ImpactReport]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["currency", "kind", "metric", "n_treated", "n_held_out", "effect_per_month", "low", "high",
                     "harmful"])
    for report in reports:
        for effect in report.surplus:
            writer.writerow([report.currency, effect.kind, "surplus", effect.n_treated, effect.n_held_out,
                             _money(effect.effect_per_month, report.currency) or "",
                             _money(effect.low, report.currency) or "", _money(effect.high, report.currency) or "",
                             "yes" if effect.harmful else "no"])
    return out.getvalue()
