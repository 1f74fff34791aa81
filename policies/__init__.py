"""Policies: pure functions from a snapshot of an account to proposals. No I/O, no clock.

`evaluate` runs every enabled policy in an order that keeps their proposals consistent:
1. anomalies first: days of the last four weeks with a conversion-tracking outage are removed
   from what conversion-based policies see (missing conversions are not evidence against anyone),
   and if yesterday was one, underperformers, reallocation and negative keywords stay silent;
2. pauses (underperformers, runaway spend); the budget policies then see those ad sets as paused;
3. reallocation (total conserved) and pacing (total scaled by a factor k): where both change one
   budget, the result is the reallocated budget times k, in one proposal;
4. negative keywords, audience exclusions and creative refreshes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import date
from decimal import Decimal

from policies.anomalies import AnomalyFlag, detect_anomalies, propose_anomaly_actions, tracking_outage_days
from policies.audience_overlap import propose_audience_exclusions
from policies.base import Proposal, Snapshot
from policies.budget_limits import bounded_budget, change_limit
from policies.creative_fatigue import propose_creative_refresh
from policies.evidence_floor import evidence_floor
from policies.money import money_str
from policies.negative_keywords import propose_negative_keywords
from policies.pacing import PacingReport, pacing_report, propose_pacing_with_report
from policies.reallocation import propose_reallocations
from policies.settings import PolicySettings
from policies.underperformers import propose_pauses

POLICY_NAMES: tuple[str, ...] = (
    "anomalies", "underperformers", "reallocation", "pacing", "negative_keywords", "audience_overlap",
    "creative_fatigue",
)

__all__ = [
    "POLICY_NAMES", "AnomalyFlag", "PacingReport", "detect_anomalies", "evaluate", "pacing_report",
]


def _with_paused(snapshot: Snapshot, entity_ids: Collection[str]) -> Snapshot:
    if not entity_ids:
        return snapshot
    entities = {
        entity_id: dataclasses.replace(entity, status="PAUSED") if entity_id in entity_ids else entity
        for entity_id, entity in snapshot.entities.items()
    }
    return snapshot.replaced(entities=entities)  # same rows: the policies share one index


def _without_days(snapshot: Snapshot, days: Collection[date]) -> Snapshot:
    """The snapshot minus the metric and search-term rows of `days`."""
    if not days:
        return snapshot
    daily = {entity_id: [r for r in rows if r.day not in days] for entity_id, rows in snapshot.daily.items()}
    terms = [t for t in snapshot.search_terms if t.day not in days]
    return dataclasses.replace(snapshot, daily=daily, search_terms=terms)


def _merge_budgets(snapshot: Snapshot, reallocation: list[Proposal], pacing: list[Proposal],
                   factor: float, limit: Decimal) -> list[Proposal]:
    """One set_budget per entity: reallocated budgets scaled by the pacing factor where pacing acts,
    the combined change capped at `limit` of the current budget (rounded toward it)."""
    if not pacing:
        return reallocation
    by_entity = {p.entity_id: p for p in pacing}
    merged = []
    for proposal in reallocation:
        paced = by_entity.pop(proposal.entity_id, None)
        if paced is None:
            merged.append(proposal)
            continue
        reallocated = Decimal(proposal.change["to"]["daily_budget"])
        current = Decimal(proposal.change["from"]["daily_budget"])
        final = bounded_budget(current, reallocated * Decimal(str(factor)), limit, snapshot.currency)
        merged.append(dataclasses.replace(
            proposal,
            policy="reallocation+pacing",
            change={"from": proposal.change["from"], "to": {"daily_budget": money_str(final, snapshot.currency)}},
            rationale=f"{proposal.rationale} Then paced: {paced.rationale}",
            evidence={"reallocation": dict(proposal.evidence), "pacing": dict(paced.evidence)},
        ))
    return merged + list(by_entity.values())


def evaluate(snapshot: Snapshot, settings: PolicySettings, only: Collection[str] | None = None) -> list[Proposal]:
    """Every enabled policy's proposals for one account (`only`: restrict to these policy names)."""
    def wanted(name: str) -> bool:
        return only is None or name in only

    outage_days = tracking_outage_days(snapshot, settings.anomalies)
    flags = detect_anomalies(snapshot, settings.anomalies, outage_days=outage_days)
    tracking_outage = any(f.kind == "tracking_outage" for f in flags)
    measured = _without_days(snapshot, outage_days)
    pauses: dict[str, Proposal] = {}
    if wanted("anomalies"):
        for proposal in propose_anomaly_actions(snapshot, settings.anomalies, flags):
            pauses.setdefault(proposal.entity_id, proposal)
    if wanted("underperformers") and not tracking_outage:
        for proposal in propose_pauses(_with_paused(measured, pauses), settings.underperformers):
            pauses.setdefault(proposal.entity_id, proposal)
    after_pauses = _with_paused(snapshot, pauses)
    measured_after_pauses = _with_paused(measured, pauses)

    # Budget cuts stop where the pause test could no longer prove a loser (only a pause goes lower).
    floor = evidence_floor(measured, settings.underperformers.target_roas,
                           settings.underperformers.evidence_floor_conversions, settings.underperformers.window_days)
    reallocation = (propose_reallocations(measured_after_pauses, settings.reallocation, evidence_floor=floor,
                                          churn=settings.budget_churn)
                    if wanted("reallocation") and not tracking_outage else [])
    pacing: list[Proposal] = []
    factor = 1.0
    if wanted("pacing"):
        pacing, report = propose_pacing_with_report(after_pauses, settings.pacing, floor, settings.budget_churn)
        factor = report.budget_factor if report else 1.0
    cap = max(change_limit(settings.reallocation.max_change_pct, settings.reallocation.learning_margin_pct),
              change_limit(settings.pacing.max_change_pct, settings.pacing.learning_margin_pct))
    budgets = _merge_budgets(snapshot, reallocation, pacing, factor, cap)

    rest: list[Proposal] = []
    if wanted("negative_keywords") and not tracking_outage:
        rest += propose_negative_keywords(measured, settings.negative_keywords)
    if wanted("audience_overlap"):
        rest += propose_audience_exclusions(measured_after_pauses, settings.audience_overlap)
    if wanted("creative_fatigue"):
        rest += propose_creative_refresh(after_pauses, settings.creative_fatigue)
    return [*pauses.values(), *budgets, *rest]


