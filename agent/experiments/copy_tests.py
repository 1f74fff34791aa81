"""Copy tests in the cycle: an approved copy draft, once created paused, is launched against the ad
it challenges, and the stopping rule (policies/copy_test.py) ends the test; both steps are ordinary
proposals that go through the gate.

Each account's turn (agent/cycle/account_turn.py) calls `plan_copy_tests` with the stored snapshot
(reads only) and, in the gate's transaction, `record_plan`:

- An executed `new_ad` draft of the copywriter without a test gets one: its ad (found in the ad set by
  its copy, as the gate's dedup finds it) is the challenger, the ad set's most-served active ad the
  incumbent. The launch is an `enable` of the challenger (policy `copy_test`), proposed every cycle
  until it executes (a pending question stays asked), is refused (the test is `not_launched`), or the
  ad turns up active by other hands (the test starts then).
- A running test is judged each cycle on the complete days after its launch day. At a verdict the
  loser's `pause` is proposed with the test's evidence, every cycle until it executes or a person
  refuses it; the winner keeps running. A test that reaches its maximum duration without a clear
  lead ends with outcome `no_winner`: nothing is paused.
- On Google, an ad group with a test open is rotated evenly while it runs, and given its optimized
  rotation back after (agent/experiments/copy_test_rotation.py).
- Dry-run writes nothing here: its launches and pauses are reported by the gate, and nothing is
  recorded as launched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, RowMapping

from agent.decisions.effects import copy_effect
from agent.experiments import copy_test_store as store
from agent.experiments.copy_test_rotation import plan_rotation
from agent.experiments.settings import CopyTestConfig
from agent.storage.action_states import as_utc
from connectors.new_ad_copy import ad_tag
from connectors.records import Entity
from policies.base import Proposal, Snapshot
from policies.copy_test import (
    NO_WINNER,
    RUNNING,
    arm_counts,
    daily_pairs,
    decide_copy_test,
    first_counted_day,
    pick_incumbent,
)

POLICY = store.POLICY
REFUSED = frozenset({"rejected", "held_out", "reported"})  # a person (or the permission) said no


@dataclass
class CopyTestPlan:
    """What one account's copy tests propose this cycle, and the table writes to make with the gate."""

    proposals: list[Proposal] = field(default_factory=list)
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (id, status read, values)


def plan_copy_tests(engine: Engine, snapshot: Snapshot, settings: CopyTestConfig, now: datetime) -> CopyTestPlan:
    """This cycle's launches, verdicts and loser pauses for the account of `snapshot` (reads only)."""
    plan = CopyTestPlan()
    if not settings.enabled:
        return plan
    with engine.connect() as connection:
        tests = store.open_tests(connection, snapshot.account_id)
        busy = {t["challenger_ad_id"] for t in tests} | {t["incumbent_ad_id"] for t in tests}
        for draft in store.drafts_to_launch(connection, snapshot.account_id,
                                            now - timedelta(days=settings.launch_within_days)):
            _new_test(snapshot, draft, busy, settings, now, plan)
        for test in tests:
            _follow(connection, snapshot, test, settings, now, plan)
        closed = {test_id for test_id, _, values in plan.updates
                  if values.get("status", store.OPEN_STATUSES[0]) not in store.OPEN_STATUSES}
        still_open: list[Mapping[Any, Any]] = [t for t in tests if t["id"] not in closed] + [
            values for values in plan.inserts if values["status"] in store.OPEN_STATUSES]
        plan.proposals += plan_rotation(connection, snapshot, still_open, settings.even_rotation)
    return plan


def record_plan(connection: Connection, plan: CopyTestPlan) -> None:
    """The plan's table writes, in the gate's transaction (so a retried cycle writes them once)."""
    for values in plan.inserts:
        store.insert_test(connection, values)
    for test_id, status, values in plan.updates:
        store.update_test(connection, test_id, status, values)


def find_challenger(snapshot: Snapshot, draft: Mapping[Any, Any]) -> Entity | None:
    """The ad a `new_ad` draft created: an ad of its ad set with the draft's copy, or carrying the
    draft's exactly-once tag in its name, or named by the platform's answer (where a connector reads
    no ad text, as LinkedIn's creatives show only their name)."""
    wanted = copy_effect(draft["change"].get("to") or {})
    tag = ad_tag(draft["idempotency_key"])
    reference = str((draft["result"] or {}).get("platform_ref") or "")

    def named(entity: Entity) -> bool:  # an id, a resource name or URN ending in it ('.../adGroupAds/1~2')
        return bool(reference) and (reference == entity.entity_id or any(
            reference.endswith(f"{separator}{entity.entity_id}") for separator in "/~:"))

    candidates = [e for e in snapshot.entities.values() if e.level == "ad" and e.parent_id == draft["entity_id"]
                  and e.status != "REMOVED" and (copy_effect(e.attributes) == wanted or tag in e.name or named(e))]
    return min(candidates, key=lambda e: (not named(e), e.entity_id), default=None)


def _prediction(draft: Mapping[Any, Any]) -> dict[str, Any]:
    predicted = draft["evidence"].get("predicted_ctr") or {}
    interval = predicted.get("interval") or [None, None]
    return {"predicted_ctr": predicted.get("ctr"), "predicted_low": interval[0], "predicted_high": interval[1],
            "interval_level": predicted.get("interval_level"),
            "feedback_log_shift": (predicted.get("launch_feedback") or {}).get("log_shift", 0.0)}


def _new_test(snapshot: Snapshot, draft: RowMapping, busy: set[str], settings: CopyTestConfig, now: datetime,
              plan: CopyTestPlan) -> None:
    challenger = find_challenger(snapshot, draft)
    if challenger is None or challenger.entity_id in busy:
        return  # not pulled yet: next cycle
    incumbent = pick_incumbent(snapshot, draft["entity_id"], busy | {challenger.entity_id})
    values: dict[str, Any] = {
        "account_id": snapshot.account_id, "platform": snapshot.platform, "ad_set_id": draft["entity_id"],
        "draft_action_id": draft["id"], "challenger_ad_id": challenger.entity_id,
        "incumbent_ad_id": incumbent.entity_id if incumbent else None, "created_at": now, **_prediction(draft),
    }
    busy.add(challenger.entity_id)
    if incumbent is None:
        plan.inserts.append({**values, "status": "not_launched",
                             "reason": "no active ad in the ad set to test the new ad against"})
        return
    busy.add(incumbent.entity_id)
    if challenger.status == "ACTIVE":
        plan.inserts.append({**values, "status": "running", "started_on": snapshot.today,
                             "reason": "the new ad was made active outside the agent"})
        return
    plan.inserts.append({**values, "status": "launching"})
    plan.proposals.append(_launch(snapshot, challenger, incumbent, values, settings))


def _follow(connection: Connection, snapshot: Snapshot, test: RowMapping, settings: CopyTestConfig,
            now: datetime, plan: CopyTestPlan) -> None:
    entities = snapshot.entities
    challenger, incumbent = entities.get(test["challenger_ad_id"]), entities.get(test["incumbent_ad_id"] or "")
    if test["status"] == "launching":
        _follow_launch(connection, snapshot, test, challenger, incumbent, settings, plan)
    elif test["status"] == "running":
        _judge(snapshot, test, challenger, incumbent, settings, now, plan)
    elif test["status"] == "concluding":
        _follow_loser(connection, snapshot, test, settings, plan)


def _follow_launch(connection: Connection, snapshot: Snapshot, test: RowMapping, challenger: Entity | None,
                   incumbent: Entity | None, settings: CopyTestConfig, plan: CopyTestPlan) -> None:
    action = store.latest_test_action(connection, snapshot.account_id, test["challenger_ad_id"], "enable")
    if challenger is None or challenger.status == "REMOVED":
        plan.updates.append((test["id"], "launching", {"status": "not_launched", "reason": "the new ad is gone"}))
    elif action is not None and action["state"] == "executed":
        started = as_utc(action["updated_at"]).astimezone(ZoneInfo(snapshot.timezone)).date()
        plan.updates.append((test["id"], "launching", {"status": "running", "started_on": started}))
    elif challenger.status == "ACTIVE":
        plan.updates.append((test["id"], "launching", {"status": "running", "started_on": snapshot.today,
                                                       "reason": "the new ad was made active outside the agent"}))
    elif action is not None and action["state"] in REFUSED:
        plan.updates.append((test["id"], "launching", {
            "status": "not_launched", "reason": f"launch {action['state']}: {action['decision_reason']}"}))
    elif incumbent is None or incumbent.status != "ACTIVE":
        plan.updates.append((test["id"], "launching", {"status": "not_launched",
                                                       "reason": "the incumbent ad is no longer active"}))
    else:  # none yet, waiting, failed (never applied), superseded or expired: asked (again)
        plan.proposals.append(_launch(snapshot, challenger, incumbent, test, settings))


def _judge(snapshot: Snapshot, test: RowMapping, challenger: Entity | None, incumbent: Entity | None,
           settings: CopyTestConfig, now: datetime, plan: CopyTestPlan) -> None:
    started: date = test["started_on"]
    first = first_counted_day(started)
    control = arm_counts(snapshot, test["incumbent_ad_id"], first, snapshot.today)
    new = arm_counts(snapshot, test["challenger_ad_id"], first, snapshot.today)
    figures: dict[str, Any] = {
        "observed_ctr": new.clicks / new.impressions if new.impressions else None,
        "incumbent_ctr": control.clicks / control.impressions if control.impressions else None,
        "counts": {"incumbent": vars(control), "challenger": vars(new),
                   "days_running": (snapshot.today - started).days},
    }
    if challenger is None or incumbent is None or challenger.status != "ACTIVE" or incumbent.status != "ACTIVE":
        plan.updates.append((test["id"], "running", {**figures, "status": "interrupted", "ended_at": now,
                                                     "reason": "an ad of the test was paused or removed outside it"}))
        return
    days = daily_pairs(snapshot, test["incumbent_ad_id"], test["challenger_ad_id"], first, snapshot.today)
    decision = decide_copy_test(control, new, (snapshot.today - started).days, settings.rule(), days)
    figures["counts"] |= {"z_ctr": decision.z_ctr, "z_conversion_rate": decision.z_conversion_rate,
                          "dispersion": round(decision.dispersion, 4)}
    if decision.status == RUNNING:
        plan.updates.append((test["id"], "running", figures))
        return
    if decision.status == NO_WINNER:
        plan.updates.append((test["id"], "running", {**figures, "status": "ended", "outcome": NO_WINNER,
                                                     "ended_at": now, "reason": decision.reason}))
        return
    winner, loser = ((challenger, incumbent) if decision.status == "challenger_wins" else (incumbent, challenger))
    verdict = {**figures, "status": "concluding", "outcome": decision.status, "ended_at": now,
               "winner_ad_id": winner.entity_id, "loser_ad_id": loser.entity_id, "reason": decision.reason}
    plan.updates.append((test["id"], "running", verdict))
    plan.proposals.append(_pause_loser(snapshot, loser, winner, {**dict(test), **verdict}, settings))


def _follow_loser(connection: Connection, snapshot: Snapshot, test: RowMapping, settings: CopyTestConfig,
                  plan: CopyTestPlan) -> None:
    loser, winner = snapshot.entities.get(test["loser_ad_id"]), snapshot.entities.get(test["winner_ad_id"])
    action = store.latest_test_action(connection, snapshot.account_id, test["loser_ad_id"], "pause")
    if loser is None or loser.status != "ACTIVE" or (action is not None and action["state"] == "executed"):
        plan.updates.append((test["id"], "concluding", {"status": "ended"}))
    elif action is not None and action["state"] in REFUSED:
        plan.updates.append((test["id"], "concluding", {
            "status": "ended", "reason": f"{test['reason']}; the loser's pause was {action['state']}: both keep running"}))
    elif winner is not None:
        plan.proposals.append(_pause_loser(snapshot, loser, winner, test, settings))


def _evidence(test: Mapping[Any, Any], settings: CopyTestConfig) -> dict[str, Any]:
    keys = ("draft_action_id", "ad_set_id", "challenger_ad_id", "incumbent_ad_id", "predicted_ctr", "predicted_low",
            "predicted_high", "interval_level", "outcome", "winner_ad_id", "loser_ad_id", "observed_ctr",
            "incumbent_ctr", "counts", "reason")
    summary = {key: test.get(key) for key in keys if test.get(key) is not None}
    started = test.get("started_on")
    if started is not None:
        summary["started_on"] = started.isoformat()
    rule = settings.rule()
    return {"copy_test": summary,
            "rule": {"z_bound": rule.z_bound, "max_days": rule.max_days, "min_impressions": rule.min_impressions,
                     "min_conversions": rule.min_conversions, "final_z": rule.final_z, "min_days": rule.min_days},
            "test": "sequential two-proportion z test of CTR (variance scaled by the days' dispersion; conversion "
                    "rate too with volume), checked daily on the complete days after the launch day"}


def _launch(snapshot: Snapshot, challenger: Entity, incumbent: Entity, test: Mapping[Any, Any],
            settings: CopyTestConfig) -> Proposal:
    predicted = test.get("predicted_ctr")
    interval = (f" (predicted CTR {predicted:.2%}, {test.get('interval_level') or 0.8:.0%} interval "
                f"{test.get('predicted_low') or 0:.2%}-{test.get('predicted_high') or 0:.2%})" if predicted else "")
    return Proposal(
        kind="enable", policy=POLICY, account_id=snapshot.account_id, entity_id=challenger.entity_id,
        entity_level="ad", entity_name=challenger.name,
        change={"from": {"status": "PAUSED"}, "to": {"status": "ACTIVE"}},
        rationale=(f"Launch the approved copy {challenger.name!r} as a test against {incumbent.name!r}{interval}: "
                   f"both serve in the ad set until the stopping rule decides (at most {settings.max_days} days); "
                   "the loser is then paused."),
        evidence=_evidence({**dict(test), "incumbent_ad_id": incumbent.entity_id}, settings),
    )


def _pause_loser(snapshot: Snapshot, loser: Entity, winner: Entity, test: Mapping[Any, Any],
                 settings: CopyTestConfig) -> Proposal:
    counts = test.get("counts") or {}
    days = counts.get("days_running")

    def ctr(arm: str) -> str:
        figures = counts.get(arm) or {}
        shown = figures.get("impressions") or 0
        return f"{(figures.get('clicks') or 0) / shown:.2%} on {shown} impressions" if shown else "no impressions"

    role = "challenger" if loser.entity_id == test["challenger_ad_id"] else "incumbent"
    return Proposal(
        kind="pause", policy=POLICY, account_id=snapshot.account_id, entity_id=loser.entity_id,
        entity_level="ad", entity_name=loser.name,
        change={"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}},
        rationale=(f"Copy test over after {days} days: {test.get('reason')}. The {role} {loser.name!r} lost "
                   f"(challenger CTR {ctr('challenger')}, incumbent {ctr('incumbent')}); pause it, "
                   f"{winner.name!r} keeps running."),
        evidence=_evidence(test, settings),
    )
