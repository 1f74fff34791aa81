"""The weekly impact section (beside the pacing report), with the copy tests' section, and its
alert on harmful kinds.

A kind whose 90% interval lies wholly below zero raises an alert: an audit event, a warning in the
log, and a line the weekly job posts on its own to Slack. The agent does not lower the permission
itself: a person edits the config.
"""

from __future__ import annotations

import logging
from datetime import datetime
from html import escape

from sqlalchemy import Engine

from agent.config import AgentConfig
from agent.experiments.copy_test_report import copy_test_section, render_copy_tests_text
from agent.experiments.report import ImpactReport, impact_reports, recommendation, render_text
from agent.storage.audit_trail import record_event

log = logging.getLogger(__name__)


def weekly_impact(engine: Engine, config: AgentConfig, now: datetime) -> tuple[str, list[str]]:
    """The impact section as text (copy tests included), and the alerts it raised (already recorded in
    the audit trail)."""
    with engine.connect() as connection:
        reports = impact_reports(connection, config, now)
        copy_tests = copy_test_section(connection, [account.id for account in config.accounts])
    alerts = raise_alerts(engine, reports, now)
    return render_text(reports) + render_copy_tests_text(copy_tests), alerts


def raise_alerts(engine: Engine, reports: list[ImpactReport], now: datetime) -> list[str]:
    alerts = []
    with engine.begin() as connection:
        for report in reports:
            for effect in report.harmful:
                message = f"impact alert ({report.currency}): {recommendation(effect)}"
                record_event(connection, at=now, event="impact_alert", actor="experiments", message=message,
                             data={"kind": effect.kind, "effect_per_month": effect.effect_per_month,
                                   "low": effect.low, "high": effect.high, "currency": report.currency})
                log.warning("impact.harmful_kind", extra={"kind": effect.kind, "currency": report.currency})
                alerts.append(message)
    return alerts


def as_html(section: str) -> str:
    """The text section inside the pacing report's HTML."""
    return f"<h2>Impact</h2><pre>{escape(section)}</pre>"
