"""What is worth an alert in one account now: anomalies at or above the configured severity that
no known change explains, and a month projected far off its budget."""

from __future__ import annotations

from dataclasses import dataclass

from agent.alerts.settings import AlertSettings
from policies.anomalies import AnomalyFlag, detect_anomalies, tracking_outage_days
from policies.base import Snapshot
from policies.money import money_str
from policies.pacing import pacing_report
from policies.settings import PolicySettings

SEVERITY_RANK = {"warning": 0, "critical": 1}


@dataclass(frozen=True)
class Candidate:
    """An alert before delivery. The same `key` is the same alert (deduplicated)."""

    key: str
    severity: str
    message: str
    path: str  # the console page that shows it


def _path(snapshot: Snapshot, flag: AnomalyFlag) -> str:
    account = f"/accounts/{snapshot.account_id}"
    if flag.scope == "campaign":
        return f"{account}/campaigns/{flag.entity_id}"
    entity = snapshot.entities.get(flag.entity_id)
    if flag.scope == "ad_set" and entity is not None and entity.parent_id:
        return f"{account}/campaigns/{entity.parent_id}"
    return account


def candidates(snapshot: Snapshot, policy: PolicySettings, settings: AlertSettings) -> list[Candidate]:
    """The account's alerts now, most severe first. Explained shifts (our own pause, an annotated
    promotion) are never alerts, whatever the severity."""
    outages = tracking_outage_days(snapshot, policy.anomalies)
    found: list[Candidate] = []
    for flag in detect_anomalies(snapshot, policy.anomalies, outage_days=outages):
        if flag.explained_by or SEVERITY_RANK[flag.severity] < SEVERITY_RANK[settings.min_severity]:
            continue
        where = "the account" if flag.scope == "account" else f"{flag.scope.replace('_', ' ')} {flag.entity_name}"
        found.append(Candidate(f"anomaly:{flag.kind}:{flag.entity_id}:{flag.metric}:{flag.direction}", flag.severity,
                               f"{snapshot.account_id}, {where}: {flag.message}", _path(snapshot, flag)))
    report = pacing_report(snapshot, policy.pacing)
    if report is not None and report.status != "on_track" and abs(report.variance_pct) >= settings.pacing_breach_pct:
        currency = report.currency
        found.append(Candidate(
            f"pacing:{report.month_start:%Y-%m}:{report.status}", "critical",
            f"{snapshot.account_id}: the month is projected to end at "
            f"{money_str(report.projected_month_end_spend, currency)} {currency} against a budget of "
            f"{money_str(report.monthly_budget, currency)} ({report.variance_pct:+.0%}, "
            f"{'over' if report.status == 'over' else 'under'}-pacing)", "/pacing"))
    return found
