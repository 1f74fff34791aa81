"""Value sources: what an ad set is judged on, for the account's objective.

The policies that judge ad sets (underperformers, reallocation, the evidence floor) think in
(spend, events, value) per ad set and day, compared with a target ROAS, with a lag curve saying how
complete young days are. A value source turns the stored facts into that series for one objective:

- `platform_roas` (no objective configured: the per-policy targets): conversions and value as the
  platform reports them, lag from the platform's conversion revisions. An ad set (or account) whose
  conversions carry no reported value at all (LinkedIn lead gen, lead forms) is never judged on ROAS:
  a ROAS of zero there means "not reported", not "worthless".
- `platform_cpa`: events are the platform's conversions, each worth `target` (the highest acceptable
  cost per conversion), judged against ROAS 1: value / spend >= 1 exactly when CPA <= target.
- `pipeline_roas`: events are CRM records reaching opportunity (won, if it skipped that stage), valued
  at their amount, credited to the click day, judged against `target`; lag from the stage timestamps.
- `cpql`: events are records reaching the qualified stage, each worth `target`, against ROAS 1.

A CRM objective on an account with no attributed outcome judges nothing (no evidence is not
evidence against an ad set). Pure code: data in, data out.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.records import MetricRow
from policies.base import OutcomeFact, Proposal, Snapshot
from policies.conversion_lag import lag_curve
from policies.settings import FUNNEL_STAGES, ObjectiveSettings
from policies.stage_lag import stage_lag_curve

PIPELINE_STAGES = ("opportunity", "won")


@dataclass(frozen=True)
class ObjectiveView:
    """The objective a snapshot was judged on, and on which data."""

    kind: str
    target: float
    target_roas: float  # what the ROAS machinery compares the series with
    data: str
    unjudged: frozenset[str] = frozenset()  # ad sets left alone: nothing to judge them on

    def describe(self, currency: str) -> str:
        goal = {"platform_roas": f"platform ROAS at least {self.target:g}",
                "platform_cpa": f"cost per platform conversion at most {self.target:g} {currency}",
                "pipeline_roas": f"pipeline ROAS at least {self.target:g}",
                "cpql": f"cost per qualified lead at most {self.target:g} {currency}"}[self.kind]
        return f"Objective {self.kind} ({goal}), judged on {self.data}."

    def as_evidence(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "target_roas": self.target_roas, "data": self.data,
                "unjudged_ad_sets": sorted(self.unjudged)}


def crm_events(facts: Iterable[OutcomeFact], kind: str, qualified_stage: str,
               today: date) -> list[tuple[OutcomeFact, Decimal]]:
    """One event per CRM record known by `today`: its pipeline stage (pipeline_roas, with its amount)
    or its first stage at or past `qualified_stage` (cpql, amount 0)."""
    by_record: dict[str, list[OutcomeFact]] = defaultdict(list)
    for fact in facts:
        if fact.stage_day < today and fact.stage in FUNNEL_STAGES:
            by_record[fact.record_id].append(fact)
    events: list[tuple[OutcomeFact, Decimal]] = []
    for stages in by_record.values():
        if kind == "pipeline_roas":
            found = [f for name in PIPELINE_STAGES for f in stages if f.stage == name and f.amount]
            if found:
                events.append((found[0], found[0].amount or Decimal(0)))
        else:
            rank = FUNNEL_STAGES.index(qualified_stage)
            reached = [f for f in stages if FUNNEL_STAGES.index(f.stage) >= rank]
            if reached:
                events.append((min(reached, key=lambda f: (f.stage_day, FUNNEL_STAGES.index(f.stage))), Decimal(0)))
    return events


def crm_series(events: Sequence[tuple[OutcomeFact, Decimal]]) -> dict[tuple[str, date], tuple[float, Decimal]]:
    """(ad set, click day) -> (events, value)."""
    series: dict[tuple[str, date], tuple[float, Decimal]] = {}
    for fact, amount in events:
        count, value = series.get((fact.ad_set_id, fact.click_day), (0.0, Decimal(0)))
        series[(fact.ad_set_id, fact.click_day)] = (count + 1, value + amount)
    return series


def no_value_ad_sets(snapshot: Snapshot) -> frozenset[str]:
    """Ad sets with conversions but never any reported value in the snapshot's history (every ad set
    when the account has conversions and no value anywhere)."""
    conversions: dict[str, float] = defaultdict(float)
    value: dict[str, Decimal] = defaultdict(Decimal)
    for entity_id, rows in snapshot.daily.items():
        for row in rows:
            if row.level == "ad_set":
                conversions[entity_id] += row.conversions
                value[entity_id] += row.conversion_value
    if sum(conversions.values()) > 0 and sum(value.values()) <= 0:  # the account reports no value at all
        return frozenset(e.entity_id for e in snapshot.entities.values() if e.level == "ad_set")
    return frozenset(e for e, count in conversions.items() if count > 0 and value[e] <= 0)


def _rewritten(snapshot: Snapshot, value_of: Any) -> dict[str, list[MetricRow]]:
    daily: dict[str, list[MetricRow]] = {}
    for entity_id, rows in snapshot.daily.items():
        daily[entity_id] = [dataclasses.replace(row, **value_of(row)) if row.level == "ad_set" else row
                            for row in rows]
    return daily


def judged_snapshot(snapshot: Snapshot, objective: ObjectiveSettings | None,
                    default_target_roas: float) -> tuple[Snapshot, ObjectiveView]:
    """The snapshot as the objective sees it: ad-set rows carry the objective's events and value, the
    lag curve is the objective's, and ad sets that cannot be judged are protected from value-based
    changes. Returns it with the view (for rationales and the target ROAS to use)."""
    kind = objective.kind if objective is not None else "platform_roas"
    target = float(objective.target or default_target_roas) if objective is not None else default_target_roas
    ad_sets = frozenset(e.entity_id for e in snapshot.entities.values() if e.level == "ad_set")
    if kind == "platform_roas":
        unjudged = no_value_ad_sets(snapshot)
        view = ObjectiveView(kind, target, target, "the platform's conversions and conversion value", unjudged)
        return _protect(snapshot, unjudged), view
    if kind == "platform_cpa":
        worth = Decimal(str(target))
        daily = _rewritten(snapshot, lambda row: {"conversion_value": Decimal(str(row.conversions)) * worth})
        view = ObjectiveView(kind, target, 1.0, "the platform's conversions (each worth the target cost)")
        judged = snapshot.replaced(daily=daily)
        judged.index.memo(("lag_curve",), lambda: lag_curve(snapshot))
        return judged, view
    qualified = objective.qualified_stage if objective is not None else "sql"
    events = crm_events(snapshot.outcomes, kind, qualified, snapshot.today)
    if not events:
        view = ObjectiveView(kind, target, target if kind == "pipeline_roas" else 1.0,
                             "attributed CRM outcomes: none yet, so no ad set is judged", ad_sets)
        return _protect(snapshot, ad_sets), view
    series = crm_series(events)
    worth = Decimal(str(target))

    def value_of(row: MetricRow) -> dict[str, Any]:
        count, value = series.get((row.entity_id, row.day), (0.0, Decimal(0)))
        return {"conversions": count, "conversion_value": value if kind == "pipeline_roas" else
                Decimal(str(count)) * worth}

    curve = stage_lag_curve([(fact.click_day, fact.stage_day) for fact, _amount in events], snapshot.today)
    judged = snapshot.replaced(daily=_rewritten(snapshot, value_of), conversion_revisions=())
    judged.index.memo(("lag_curve",), lambda: curve)  # the CRM's stage delays, not the platform's revisions
    what = ("attributed CRM pipeline (opportunity amounts) by click day" if kind == "pipeline_roas"
            else f"attributed CRM leads reaching {qualified} by click day")
    view = ObjectiveView(kind, target, target if kind == "pipeline_roas" else 1.0,
                         f"{what}, {len(events)} so far, stage lag {curve.source}")
    return judged, view


def _protect(snapshot: Snapshot, entity_ids: frozenset[str]) -> Snapshot:
    if not entity_ids:
        return snapshot
    return snapshot.replaced(protected_entities=snapshot.protected_entities | entity_ids)


def with_objective(proposals: Iterable[Proposal], view: ObjectiveView, currency: str) -> list[Proposal]:
    """The proposals with the objective and its data stated first in the rationale and in the evidence."""
    note = view.describe(currency)
    return [dataclasses.replace(p, rationale=f"{note} {p.rationale}",
                                evidence={**p.evidence, "objective": view.as_evidence()}) for p in proposals]
