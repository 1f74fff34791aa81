"""Policies: pure functions from a snapshot of an account to proposals. No I/O, no clock.

`evaluate` runs every enabled policy in an order that keeps their proposals consistent:
1. anomalies first: days of the last four weeks with a conversion-tracking outage are removed
   from what conversion-based policies see (missing conversions are not evidence against anyone),
   and if yesterday was one, underperformers, reallocation and negative keywords stay silent;
2. pauses (underperformers, runaway spend); an underperformer that was scaled up is cut back
   toward its last profitable budget instead (the remedy ladder, policies/remedy_ladder.py); the
   budget policies then see paused ad sets as paused and leave laddered ones alone;
3. reallocation (total conserved) and pacing (total scaled by a factor k, no raise past the point
   where the holder's marginal ROAS falls below target): where both change one budget, the result
   is the reallocated budget times that holder's pacing factor, in one proposal, and all the budget
   moves are the legs of one plan (policies/budget_plan.py). The budget policies count only on the
   sibling pauses that will run without waiting (`executes`);
   Underperformers, reallocation and the evidence floor judge ad sets on the account's objective
   (`value_source`: platform ROAS or CPA, CRM pipeline or qualified leads);
4. negative keywords, audience exclusions and creative refreshes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from policies.anomalies import AnomalyFlag, detect_anomalies, propose_anomaly_actions, tracking_outage_days
from policies.audience_overlap import propose_audience_exclusions
from policies.base import Proposal, Snapshot
from policies.budget_churn import smallest_move
from policies.budget_limits import bounded_budget, change_limit
from policies.budget_plan import joint_plan
from policies.conversion_lag import lag_curve
from policies.creative_fatigue import propose_creative_refresh
from policies.evidence_floor import evidence_floor
from policies.marginal_returns import response_curves
from policies.money import money_str
from policies.negative_keywords import propose_negative_keywords
from policies.pacing import PacingReport, Returns, pacing_report, propose_pacing_with_report
from policies.reallocation import propose_reallocations
from policies.remedy_ladder import apply_ladder
from policies.roas_evidence import window_bounds
from policies.settings import BudgetChurnSettings, PolicySettings
from policies.underperformers import level_test, propose_pauses
from policies.value_source import ObjectiveView, judged_snapshot, with_objective

POLICY_NAMES: tuple[str, ...] = (
    "anomalies", "underperformers", "reallocation", "pacing", "negative_keywords", "audience_overlap",
    "creative_fatigue", "segment_exclusions",
)

__all__ = [
    "POLICY_NAMES", "AnomalyFlag", "PacingReport", "detect_anomalies", "evaluate", "pacing_outlook", "pacing_report",
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
                   limit: Decimal, churn: BudgetChurnSettings) -> list[Proposal]:
    """One set_budget per entity: a reallocated budget scaled by the pacing's own factor for that
    entity (its paced budget over its current one: pacing may stop short of the account's factor
    where returns fall below target), the combined change capped at `limit` of the current budget
    (rounded toward it); a combined move below the materiality threshold is dropped."""
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
        factor = Decimal(paced.change["to"]["daily_budget"]) / current if current > 0 else Decimal(1)
        final = bounded_budget(current, reallocated * factor, limit, snapshot.currency)
        if abs(final - current) < smallest_move(current, churn):
            continue  # pacing undid most of the move: what is left is not material
        merged.append(dataclasses.replace(
            proposal,
            policy="reallocation+pacing",
            change={"from": proposal.change["from"], "to": {"daily_budget": money_str(final, snapshot.currency)}},
            rationale=f"{proposal.rationale} Then paced: {paced.rationale}",
            evidence={"reallocation": dict(proposal.evidence), "pacing": dict(paced.evidence)},
        ))
    return merged + list(by_entity.values())


def _laddered(measured: Snapshot, settings: PolicySettings, verdicts: list[Proposal], floor: Decimal,
              held: set[str]) -> list[Proposal]:
    """The underperformers' pause verdicts through the remedy ladder (policies/remedy_ladder.py):
    a pause, a cut toward the last profitable budget, or nothing (held; added to `held`)."""
    if not verdicts or not settings.remedy_ladder.enabled:
        return verdicts
    test = level_test(measured, settings.underperformers)
    window = window_bounds(measured.today, settings.underperformers.window_days)
    limit = change_limit(settings.reallocation.max_change_pct, settings.reallocation.learning_margin_pct)
    result = []
    for verdict in verdicts:
        step = apply_ladder(measured, verdict, window, settings.remedy_ladder,
                            functools.partial(test, verdict.entity_id), limit, floor)
        if step.proposal is None:
            held.add(verdict.entity_id)
        else:
            result.append(step.proposal)
    return result


@dataclass(frozen=True)
class _PauseStage:
    """Pauses and ladder steps, and what the budget policies may count on: only the pauses that run
    without waiting (`executes`), never a report-only or to-be-approved sibling proposal (its ad set
    is held as it is: spending, in the projections, and left alone by the budget moves)."""

    pauses: dict[str, Proposal]
    ladder: list[Proposal]
    measured: Snapshot
    tracking_outage: bool
    floor: Decimal
    budget_view: Snapshot  # as the budget policies see it: executing pauses applied, laddered ad sets held
    measured_budget_view: Snapshot  # ... judged on the account's objective (value_source)
    objective: ObjectiveView


def _pause_stage(snapshot: Snapshot, settings: PolicySettings, wanted: Callable[[str], bool],
                 executes: Collection[str] | None) -> _PauseStage:
    outage_days = tracking_outage_days(snapshot, settings.anomalies)
    flags = detect_anomalies(snapshot, settings.anomalies, outage_days=outage_days)
    tracking_outage = any(f.kind == "tracking_outage" for f in flags)
    measured = _without_days(snapshot, outage_days)
    # Ad sets are judged on the objective's series (value_source): pauses, reallocation, evidence floor.
    judged, objective = judged_snapshot(measured, settings.objective, settings.underperformers.target_roas)
    judging = settings.underperformers.model_copy(update={"target_roas": objective.target_roas})
    pauses: dict[str, Proposal] = {}
    if wanted("anomalies"):
        for proposal in propose_anomaly_actions(snapshot, settings.anomalies, flags):
            pauses.setdefault(proposal.entity_id, proposal)
    # Budget cuts stop where the pause test could no longer prove a loser (only a pause goes lower).
    floor = evidence_floor(judged, objective.target_roas, judging.evidence_floor_conversions, judging.window_days)
    ladder: list[Proposal] = []  # cuts toward a last profitable budget, instead of a pause
    held: set[str] = set()  # ... and ad sets the ladder holds where they are
    if wanted("underperformers") and not tracking_outage:
        verdicts = with_objective(propose_pauses(_with_paused(judged, pauses), judging), objective, snapshot.currency)
        judged_settings = settings.model_copy(update={"underperformers": judging})
        for proposal in _laddered(judged, judged_settings, verdicts, floor, held):
            if proposal.kind == "pause":
                pauses.setdefault(proposal.entity_id, proposal)
            elif proposal.entity_id not in pauses:
                ladder.append(proposal)
                held.add(proposal.entity_id)
    counted = pauses if executes is None or "pause" in executes else {}
    view, measured_view = _with_paused(snapshot, counted), _with_paused(judged, counted)
    # a pause that waits for a person keeps spending until then (the projections count its spend),
    # and no budget move of ours on it would survive beside it: held, as the ladder's ad sets are
    held |= pauses.keys() - counted.keys()
    if held:  # the ladder's cut (or hold) is the budget decision for these: no other policy moves them
        view = view.replaced(protected_entities=view.protected_entities | held)
        measured_view = measured_view.replaced(protected_entities=measured_view.protected_entities | held)
    return _PauseStage(pauses, ladder, measured, tracking_outage, floor, view, measured_view, objective)


def _returns(stage: _PauseStage, settings: PolicySettings) -> Returns:
    """The holders' response curves, for pacing to raise only where the next unit pays."""
    view = stage.measured_budget_view
    return Returns(response_curves(view, settings.reallocation.window_days, settings.reallocation.prior_elasticity,
                                   lag_curve(view)), stage.objective.target_roas)


def pacing_outlook(snapshot: Snapshot, settings: PolicySettings,
                   executes: Collection[str] | None = None) -> PacingReport | None:
    """The month's pacing as the pacing policy sees it in `evaluate` (same pauses counted, same
    floor, hysteresis and returns): the pacing report and the policy share this one projection."""
    stage = _pause_stage(snapshot, settings, lambda _: True, executes)
    return pacing_report(stage.budget_view, settings.pacing, stage.floor, settings.budget_churn,
                         _returns(stage, settings))


def evaluate(snapshot: Snapshot, settings: PolicySettings, only: Collection[str] | None = None,
             executes: Collection[str] | None = None) -> list[Proposal]:
    """Every enabled policy's proposals for one account (`only`: restrict to these policy names).

    `executes`: the action kinds that run without waiting for anyone (the account's `auto`
    permissions); None means all. The budget policies count only on sibling pauses of those kinds:
    a pause that is report-only or awaits approval may never happen."""
    def wanted(name: str) -> bool:
        return only is None or name in only

    stage = _pause_stage(snapshot, settings, wanted, executes)
    reallocation = (with_objective(propose_reallocations(stage.measured_budget_view, settings.reallocation,
                                                         evidence_floor=stage.floor, churn=settings.budget_churn),
                                   stage.objective, snapshot.currency)
                    if wanted("reallocation") and not stage.tracking_outage else [])
    pacing: list[Proposal] = []
    if wanted("pacing") and settings.pacing.enabled and stage.budget_view.monthly_budget is not None:
        pacing, _ = propose_pacing_with_report(stage.budget_view, settings.pacing, stage.floor,
                                               settings.budget_churn, _returns(stage, settings))
    cap = max(change_limit(settings.reallocation.max_change_pct, settings.reallocation.learning_margin_pct),
              change_limit(settings.pacing.max_change_pct, settings.pacing.learning_margin_pct))
    budgets = joint_plan(_merge_budgets(snapshot, reallocation, pacing, cap, settings.budget_churn),
                         snapshot.account_id, snapshot.today, snapshot.currency)

    rest: list[Proposal] = []
    if wanted("negative_keywords") and not stage.tracking_outage:
        rest += propose_negative_keywords(stage.measured, settings.negative_keywords)
    if wanted("audience_overlap"):
        rest += propose_audience_exclusions(stage.measured_budget_view, settings.audience_overlap)
    if wanted("creative_fatigue"):
        rest += propose_creative_refresh(stage.budget_view, settings.creative_fatigue)
    return [*stage.pauses.values(), *stage.ladder, *budgets, *rest]
