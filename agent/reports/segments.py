"""The segment report: per account, campaign, dimension and segment, spend share, conversions, CPA and
ROAS with a 90% interval, and the money spent on segments below target.

The interval is the posterior of the project's ROAS model (policies/roas_evidence.py), shrunk towards
the campaign's own ROAS over the same window, with the account's conversion-lag curve discounting
each young day's spend (a segment's days are the ad sets' days, so the ad sets' completeness applies). "Below
target" means the posterior puts at least `confidence` (as for pausing) on a ROAS under the account's
target (`policies.underperformers.target_roas`).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from agent.clock import Clock
from agent.config import AgentConfig
from agent.decisions.snapshots import load_snapshot
from agent.reports import customer_share
from agent.storage.segment_store import SegmentTotal, segment_totals
from connectors.records import quantize_money
from connectors.segments import CONVERSION_DIMENSIONS
from policies.base import Proposal
from policies.conversion_lag import DEFAULT_CURVE, LagCurve, lag_curve
from policies.roas_evidence import DEFAULT_VALUE_CV, WindowEvidence, roas_posterior

PRIOR_CONVERSIONS = 5.0  # weight of the campaign's ROAS in a segment's posterior, in conversions
DEFAULT_WINDOW_DAYS = 28


@dataclass(frozen=True)
class SegmentLine:
    account: str
    campaign: str
    campaign_name: str
    dimension: str
    segment: str
    currency: str
    spend: Decimal
    spend_share: float
    conversions: float
    cpa: Decimal | None
    roas: float | None
    roas_low: float | None  # None for conversion-only dimensions (customer_type): no spend per segment
    roas_high: float | None
    probability_below_target: float
    below_target: bool

    def as_json(self) -> dict[str, Any]:
        return {"account": self.account, "campaign": self.campaign, "campaign_name": self.campaign_name,
                "dimension": self.dimension, "segment": self.segment, "currency": self.currency,
                "spend": str(self.spend), "spend_share": round(self.spend_share, 4),
                "conversions": round(self.conversions, 2), "cpa": None if self.cpa is None else str(self.cpa),
                "roas": None if self.roas is None else round(self.roas, 3), "roas_low": _rounded(self.roas_low),
                "roas_high": _rounded(self.roas_high),
                "probability_below_target": round(self.probability_below_target, 3),
                "below_target": self.below_target}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True)
class SegmentReport:
    start: date
    end: date
    lines: list[SegmentLine]
    targets: dict[str, float]  # account -> target ROAS
    below_target_spend: dict[tuple[str, str, str], Decimal]  # (account, campaign, dimension) -> money
    customers: dict[str, Any] | None = None  # new vs existing customers (agent/reports/customer_share.py)

    def as_json(self) -> dict[str, Any]:
        return {
            "period": {"start": self.start.isoformat(), "end": self.end.isoformat(),
                       "note": "account-local days; the latest days still miss late conversions (lag-corrected)"},
            "targets": {account: target for account, target in sorted(self.targets.items())},
            "rows": [line.as_json() for line in self.lines],
            "below_target": [{"account": a, "campaign": c, "dimension": d, "spend": str(money)}
                             for (a, c, d), money in sorted(self.below_target_spend.items())],
            "customers": self.customers,
        }


def _evidence(spend: Decimal, exposure: float, conversions: float, value: Decimal, start: date,
              end: date) -> WindowEvidence:
    return WindowEvidence(start, end, spend, exposure, conversions, value, 0, 0, 0, exposure)


def build_segment_report(connection: Connection, config: AgentConfig, today: date, *,
                         account_ids: Sequence[str] | None = None, dimension: str | None = None,
                         window_days: int = DEFAULT_WINDOW_DAYS,
                         curves: Mapping[str, LagCurve] | None = None) -> SegmentReport:
    """`curves`: each account's conversion-lag curve (the conservative default where missing)."""
    end = today - timedelta(days=1)
    start = end - timedelta(days=window_days - 1)
    known = curves or {}
    totals = segment_totals(connection, start, end, account_ids, dimension,
                            lambda account, day: known.get(account, DEFAULT_CURVE).for_day(day, today))
    accounts = {a.id: a for a in config.accounts}
    settings = {a: config.policy_settings(accounts[a]).underperformers for a in {t.account_id for t in totals}
                if a in accounts}
    by_campaign: dict[tuple[str, str, str], list[SegmentTotal]] = defaultdict(list)
    for total in totals:
        by_campaign[(total.account_id, total.campaign_id, total.dimension)].append(total)
    lines: list[SegmentLine] = []
    below: dict[tuple[str, str, str], Decimal] = {}
    targets: dict[str, float] = {}
    currencies: dict[tuple[str, str, str], str] = {}
    for (account, campaign, dim), segments in by_campaign.items():
        policy = settings.get(account)
        target = policy.target_roas if policy else 2.0
        confidence = policy.confidence if policy else 0.975
        targets[account] = target
        spend = sum((s.spend for s in segments), Decimal(0))
        prior = _evidence(spend, sum(s.exposure for s in segments), sum(s.conversions for s in segments),
                          sum((s.conversion_value for s in segments), Decimal(0)), start, end)
        below[(account, campaign, dim)] = Decimal(0)
        currencies[(account, campaign, dim)] = segments[0].currency
        for s in segments:
            if dim in CONVERSION_DIMENSIONS:  # the platform splits conversions only: no CPA or ROAS per segment
                lines.append(SegmentLine(
                    account, campaign, s.campaign_name, dim, s.segment, s.currency,
                    quantize_money(s.spend, s.currency), float(s.spend / spend) if spend > 0 else 0.0, s.conversions,
                    None, None, None, None, 0.0, False))
                continue
            own = _evidence(s.spend, s.exposure, s.conversions, s.conversion_value, start, end)
            posterior = roas_posterior(own, prior, PRIOR_CONVERSIONS, DEFAULT_VALUE_CV)
            low, high = posterior.quantiles(0.05, 0.95)
            probability = posterior.probability_below(target)
            is_below = s.spend > 0 and probability >= confidence
            if is_below:
                below[(account, campaign, dim)] += s.spend
            lines.append(SegmentLine(
                account, campaign, s.campaign_name, dim, s.segment, s.currency, quantize_money(s.spend, s.currency),
                float(s.spend / spend) if spend > 0 else 0.0, s.conversions,
                quantize_money(s.spend / Decimal(repr(s.conversions)), s.currency) if s.conversions > 0 else None,
                own.lag_corrected_roas, low, high, probability, is_below))
    return SegmentReport(start, end, lines, targets,
                         {k: quantize_money(v, currencies[k]) for k, v in below.items()},
                         customer_share.customer_share(connection, config, start, end, account_ids))


def account_curves(engine: Engine, config: AgentConfig, today: date, clock: Clock) -> dict[str, LagCurve]:
    """Each account's conversion-lag curve, as its policies see it."""
    return {account.id: lag_curve(load_snapshot(engine, account, today, clock)) for account in config.accounts}


def segments_section(engine: Engine, config: AgentConfig, clock: Clock, limit: int = 20) -> dict[str, Any] | None:
    """The dashboard's section: the segments below target, most money first (None: no breakdown stored)."""
    today = clock.now().date()
    curves = account_curves(engine, config, today, clock)
    with engine.connect() as connection:
        report = build_segment_report(connection, config, today, curves=curves)
    if not report.lines:
        return None
    below = sorted((line for line in report.lines if line.below_target), key=lambda line: line.spend, reverse=True)
    return {"start": report.start.isoformat(), "end": report.end.isoformat(), "lines": below[:limit],
            "targets": report.targets}


def render_text(report: SegmentReport) -> str:
    customers = customer_share.render_text(report.customers) if report.customers else ""
    if not report.lines:
        return "no segment data stored yet: breakdowns arrive with the next pull\n" + customers
    out = [f"Segments {report.start.isoformat()}..{report.end.isoformat()} (account days; ROAS lag-corrected, "
           "90% interval)"]
    current = None
    for line in report.lines:
        heading = (line.account, line.campaign, line.dimension)
        if heading != current:
            current = heading
            money = report.below_target_spend.get(heading, Decimal(0))
            out.append(f"\n{line.account} / {line.campaign_name} / {line.dimension}  (target ROAS "
                       f"{report.targets.get(line.account, 0):.2f}; spend on segments below target: {money} "
                       f"{line.currency})")
            out.append(f"  {'segment':<30} {'spend':>12} {'share':>6} {'conv':>8} {'CPA':>10} {'ROAS':>6}  interval")
        cpa = "–" if line.cpa is None else str(line.cpa)
        roas = "–" if line.roas is None else f"{line.roas:.2f}"
        interval = "–" if line.roas_low is None or line.roas_high is None else (
            f"{line.roas_low:.2f}-{line.roas_high:.2f}")
        flag = "  below target" if line.below_target else ""
        out.append(f"  {line.segment:<30} {line.spend:>12} {line.spend_share:>6.1%} {line.conversions:>8.1f} "
                   f"{cpa:>10} {roas:>6}  {interval}{flag}")
    return "\n".join(out) + "\n" + customers


CSV_FIELDS = ("account", "campaign", "campaign_name", "dimension", "segment", "currency", "spend", "spend_share",
              "conversions", "cpa", "roas", "roas_low", "roas_high", "probability_below_target", "below_target")


def render_csv(report: SegmentReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for line in report.lines:
        writer.writerow(line.as_json())
    return buffer.getvalue()


def proposal_json(proposal: Proposal) -> dict[str, Any]:
    return {"kind": proposal.kind, "account": proposal.account_id, "ad_set": proposal.entity_id,
            "ad_set_name": proposal.entity_name, "change": dict(proposal.change), "rationale": proposal.rationale,
            "evidence": dict(proposal.evidence)}


def render_proposals(proposals: Sequence[Proposal]) -> str:
    if not proposals:
        return "\nSegment proposals: none (no segment below target with enough evidence where a lever exists)\n"
    out = [f"\nSegment proposals ({len(proposals)}, shown only, nothing queued):"]
    for p in proposals:
        to = p.change.get("to", {})
        out.append(f"  {p.account_id} / {p.entity_name}: {p.kind} {to.get('dimension')}={to.get('segment')}")
        out.append(f"    {p.rationale}")
    return "\n".join(out) + "\n"
