"""The dashboard's outcomes section: the same figures as `report outcomes --by platform`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from agent.config import AgentConfig
from agent.outcomes.report import ReportError, outcome_report
from agent.outcomes.store import outcomes_stored


def outcomes_section(engine: Engine, config: AgentConfig) -> dict[str, Any] | None:
    """`{"report": ..., "problem": ..., "qualified_stage": ...}`, or None when no outcome was ever imported."""
    with engine.connect() as connection:
        if not outcomes_stored(connection):
            return None
        try:
            report: dict[str, Any] | None = outcome_report(connection, config, "platform")
            problem = None
        except ReportError as error:
            report, problem = None, str(error)
    return {"report": report, "problem": problem, "qualified_stage": config.outcomes.qualified_stage,
            "window_days": config.outcomes.attribution_window_days}
