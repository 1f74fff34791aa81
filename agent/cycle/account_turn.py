"""One account's turn in a cycle: pull, evaluate the policies, gate the proposals, and (in threads)
execute what the gate approved.

`run_account` never raises: a failing account is logged, counted and recorded, and the rest of
the cycle goes on. It runs in one of the cycle's threads (agent/cycle/run.py) or on a Celery worker
(agent/runtime/celery_app.py); either way it reads what it shares with the cycle from a `RunContext`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine

from agent.audiences.desired import crm_segment_source
from agent.audiences.lookalikes import lookalike_proposals
from agent.audiences.proposals import SYNC_KIND, audience_proposals
from agent.clock import local_today
from agent.config import AccountConfig, AgentConfig
from agent.copywriter import draft_new_ads
from agent.copywriter.drafter_choice import make_drafter
from agent.copywriter.launch_feedback import Launch, launch_feedback
from agent.copywriter.triggers import find_triggers
from agent.cycle.account_pull import pull_account
from agent.cycle.concurrency import ReadPool
from agent.cycle.run_context import RunContext
from agent.cycle.summary import CycleSummary
from agent.decisions.budget_plans import gate_plan, split_plans, yield_to_plans
from agent.decisions.effects import still_to_add
from agent.decisions.gate import KIND_PRIORITY as STATE_SETTING_KINDS
from agent.decisions.gate import context_for, decide, kinds_on_auto, resolve_conflicts
from agent.decisions.prospecting_proposals import prospecting_proposals
from agent.decisions.queue_upkeep import keep_pending
from agent.decisions.segment_proposals import cycle_proposals as segment_proposals
from agent.decisions.snapshots import load_snapshot
from agent.decisions.user_rules import rule_proposals
from agent.execution.executor import execute_approved
from agent.experiments import assign as experiments
from agent.experiments import copy_tests
from agent.experiments.copy_test_store import launches_on
from agent.outcomes.uploads import UPLOAD_KIND, upload_proposals
from agent.storage import audit_trail, copy_drafts
from agent.storage.action_states import (
    create_action,
    entities_with_open_actions,
    json_ready,
    open_actions_for,
    transition,
)
from agent.storage.db_retry import retry_unit
from agent.storage.segment_store import load_segment_rows
from connectors.records import AccountInfo
from policies import evaluate
from policies.base import Proposal, Snapshot
from policies.copy_test import JUDGED_OUTCOMES
from policies.rules.evaluate import is_rule_dry_run

log = logging.getLogger("agent.cycle.run")  # the cycle's log lines keep their logger name


def run_account(run: RunContext, account: AccountConfig, info: AccountInfo | None = None,
                reads: ReadPool | None = None, *, execute: bool = False) -> CycleSummary:
    """Pull, evaluate and gate one account, and with `execute` run its approved actions unless
    `run.stopping` says no; its part of the cycle's summary. Never raises: a failing account is
    recorded and reported, and the others go on. `reads`: where the account's independent reads
    run (by default one after another, in this thread)."""
    engine, clock, dry_run, say = run.engine, run.clock, run.dry_run, run.say
    summary = CycleSummary(cycle_id=run.cycle_id, dry_run=dry_run, accounts=1)
    today = local_today(clock, account.timezone)
    try:
        say(f"{account.id}: pulling from {account.platform}")
        step_started = time.monotonic()
        retry_unit(lambda: pull_account(run, account, today, summary, info, reads),
                   restore=summary)  # reads and our database only
        log.info("cycle.pull", extra={"account": account.id, "rows": summary.metric_rows_upserted,
                                      "seconds": round(time.monotonic() - step_started, 3)})
        say(f"{account.id}: evaluating policies")
        step_started = time.monotonic()
        retry_unit(lambda: _evaluate_and_gate(run, account, today, summary), restore=summary)
        log.info("cycle.evaluate", extra={"account": account.id,
                                          "proposals": sum(summary.proposals_by_kind.values()),
                                          "seconds": round(time.monotonic() - step_started, 3)})
        if execute and not dry_run and not run.stopping():
            say(f"{account.id}: executing approved actions")
            step_started = time.monotonic()
            report = execute_approved(engine, run.connectors, run.config, clock, accounts=[account.id])
            summary.execution.update(report.outcomes)
            summary.write_problems += report.write_problems
            summary.executed_accounts.add(account.id)
            log.info("cycle.execute", extra={"account": account.id, "outcomes": dict(report.outcomes),
                                             "seconds": round(time.monotonic() - step_started, 3)})
    except Exception as error:  # one bad account must not stop the others
        log.exception("cycle.account_failed", extra={"account": account.id})
        summary.accounts_failed += 1
        summary.errors.append(f"{account.id}: {type(error).__name__}: {error}")
        with engine.begin() as connection:
            audit_trail.record_event(
                connection, at=clock.now(), event="account_failed", actor="agent",
                message=f"{type(error).__name__}: {error}", cycle_id=run.cycle_id, account_id=account.id,
            )
    return summary


def _evaluate_and_gate(run: RunContext, account: AccountConfig, today: date, summary: CycleSummary) -> None:
    engine, config, clock, dry_run = run.engine, run.config, run.clock, run.dry_run
    snapshot = load_snapshot(engine, account, today, clock)
    proposals = evaluate(snapshot, config.policy_settings(account), executes=kinds_on_auto(account, config))
    proposals += rule_proposals(engine, account, config, snapshot, clock, summary.cycle_id)  # user rules
    proposals += segment_proposals(engine, config, account, snapshot, proposals)  # from the stored breakdowns
    guardrails = config.guardrail_settings(account)
    now = clock.now()
    needing_copy = _needing_copy(snapshot, proposals, account, config)
    drafts, drafted = _draft_copy(engine, snapshot, proposals, needing_copy, account, config, now, now - timedelta(
        hours=guardrails.approval_ttl_hours), summary)
    proposals += upload_proposals(engine, account, config, now)
    proposals += audience_proposals(engine, account, crm_segment_source)  # docs/audiences.md
    proposals += lookalike_proposals(engine, account)
    proposals += prospecting_proposals(engine, config, account, snapshot)  # docs/segments.md
    proposals += drafts
    tests = copy_tests.plan_copy_tests(engine, snapshot, config.experiments.copy_tests, now)
    proposals += tests.proposals  # launches of approved drafts and losers' pauses (docs/experiments.md)
    winners, losers = resolve_conflicts(proposals)
    ttl = timedelta(hours=guardrails.approval_ttl_hours)
    with engine.begin() as connection:
        if not dry_run:  # what still waits for a person is kept, asked again or expired (agent/decisions/queue_upkeep.py)
            upkeep = keep_pending(connection, account.id, winners, entities=snapshot.entities, churn=config.policy_settings(account).budget_churn,
                                  drafting_ad_sets=needing_copy, now=now,
                                  ttl=ttl, today=today, grace_days=guardrails.evidence_grace_days)
            winners = upkeep.to_gate
            summary.actions_by_state.update(upkeep.counts)
        winners, plans = split_plans(winners)
        copy_drafts.record_drafts(connection, account.id, drafted, now)  # with the gate: a retried unit drafts again
        if not dry_run:
            copy_tests.record_plan(connection, tests)
        ctx = context_for(connection, account, config, now, snapshot.entities)
        for proposal, reason in losers:
            summary.proposals_by_kind[proposal.kind] += 1
            action_id = create_action(connection, proposal, cycle_id=summary.cycle_id, permission="-",
                                      dry_run=dry_run, now=now)
            transition(connection, action_id, "superseded", actor="gate", reason=reason, now=now)
            summary.actions_by_state["superseded"] += 1
        for found in winners:
            summary.proposals_by_kind[found.kind] += 1
            kept = _still_to_add(connection, found, snapshot, summary, now)
            if kept is None:
                continue
            proposal = kept
            if not dry_run and _already_open(connection, proposal, summary.cycle_id, now,
                                             now - timedelta(hours=guardrails.approval_ttl_hours)):
                summary.actions_by_state["already_open"] += 1
                continue
            reported_only = dry_run or is_rule_dry_run(proposal)  # a rule of its own may be dry-run
            decision = decide(proposal, account, config, dry_run=reported_only, settings=guardrails, ctx=ctx)
            if decision.state == "rejected" and set(decision.rules) == {"cooldown"}:
                audit_trail.record_event(connection, at=now, event="proposal_skipped", actor="gate",
                                   message=f"{proposal.kind} on {proposal.entity_id}: {decision.reason}",
                                   cycle_id=summary.cycle_id, account_id=account.id)
                summary.actions_by_state["cooling_down"] += 1
                continue
            in_experiment = experiments.eligible(proposal, decision.state, config.experiments, reported_only)
            if in_experiment and experiments.repeats_held_out(connection, proposal, now):
                summary.actions_by_state["already_held_out"] += 1
                continue
            action_id = create_action(connection, proposal, cycle_id=summary.cycle_id,
                                      permission=decision.permission, dry_run=reported_only, now=now)
            if in_experiment and experiments.hold_out(connection, proposal, action_id, config.experiments,
                                                      cycle_id=summary.cycle_id, now=now):
                summary.actions_by_state["held_out"] += 1
                continue
            expires = now + timedelta(hours=guardrails.approval_ttl_hours)
            transition(connection, action_id, decision.state, actor="gate", reason=decision.reason, now=now,
                       data={"permission": decision.permission, "dry_run": reported_only},
                       expires_at=expires if decision.state == "pending_approval" else None)
            summary.actions_by_state[decision.state] += 1
            if decision.state == "approved":
                ctx = replace(ctx, automatic_actions_this_cycle=ctx.automatic_actions_this_cycle + 1)
        for plan_id, legs in plans.items():  # each plan's legs together (agent/decisions/budget_plans.py)
            summary.proposals_by_kind["set_budget"] += len(legs)
            ctx = gate_plan(connection, plan_id, legs, lambda leg, leg_ctx: decide(
                leg, account, config, dry_run=dry_run, settings=guardrails, ctx=leg_ctx), ctx,
                cycle_id=summary.cycle_id, dry_run=dry_run, now=now,
                recent_since=now - timedelta(hours=guardrails.approval_ttl_hours),
                approval_ttl=timedelta(hours=guardrails.approval_ttl_hours), counts=summary.actions_by_state)


def _still_to_add(connection: Connection, proposal: Proposal, snapshot: Snapshot, summary: CycleSummary,
                  now: datetime) -> Proposal | None:
    """An additive proposal without what is already applied, in flight or queued (agent/decisions/effects.py);
    None, with an audit event, when nothing is left to add."""
    remaining, left_out = still_to_add(connection, proposal, snapshot.entities, now)
    if remaining is None or left_out:
        what = "everything it adds is" if remaining is None else f"{left_out} of its additions are"
        audit_trail.record_event(connection, at=now, event="proposal_skipped" if remaining is None else "proposal_trimmed",
                           actor="gate", message=f"{proposal.kind} on {proposal.entity_id}: {what} already "
                                                 "applied, in flight or queued",
                           cycle_id=summary.cycle_id, account_id=proposal.account_id)
    if remaining is None:
        summary.actions_by_state["already_open"] += 1
    return remaining


def _needing_copy(snapshot: Snapshot, proposals: Sequence[Proposal], account: AccountConfig,
                  config: AgentConfig) -> set[str]:
    """Ad sets that still have a reason for new copy (fatigue or a lagging CTR), drafts waiting or not."""
    settings = config.copywriter_settings(account)
    if not settings.enabled:
        return set()
    return {t.ad_set_id for t in find_triggers(snapshot, proposals, settings.low_ctr_ratio,
                                                settings.low_ctr_window_days, settings.low_ctr_min_impressions)}


def _draft_copy(engine: Engine, snapshot: Snapshot, proposals: Sequence[Proposal], needing_copy: set[str],
                account: AccountConfig, config: AgentConfig, now: datetime, recent_since: datetime,
                summary: CycleSummary) -> tuple[list[Proposal], list[str]]:
    """New ad copy for fatigued or low-CTR ad sets (`needing_copy`), and the ad sets drafted for. Skipped: ad sets
    whose earlier drafts still await a decision (a new draft every hour would only fill the queue),
    and ad sets drafted for within `draft_period_hours` whatever came of it (drafting is the
    cycle's CPU, or a language model's money, and hourly copy for the same ad set adds nothing)."""
    settings = config.copywriter_settings(account)
    if not settings.enabled or not needing_copy:
        return [], []  # nothing to draft for: none of the reads below (most hourly cycles)
    with engine.connect() as connection:
        ad_sets = {e.entity_id for e in snapshot.entities.values() if e.level == "ad_set"}
        busy = ad_sets & entities_with_open_actions(connection, account.id, "new_ad", decided_since=recent_since)
        if settings.draft_period_hours:
            busy |= copy_drafts.drafted_since(connection, account.id,
                                              now - timedelta(hours=settings.draft_period_hours))
        dimensions = {s.dimension for s in settings.segments if s.dimension}  # copy per segment (docs/copy.md)
        segment_rows = load_segment_rows(connection, account.id,
                                         snapshot.today - timedelta(days=settings.segment_window_days),
                                         snapshot.today - timedelta(days=1), dimensions) if dimensions else []
        launches = [Launch(row["predicted_ctr"], row["observed_ctr"], row["feedback_log_shift"] or 0.0)
                    for row in launches_on(connection, snapshot.platform, JUDGED_OUTCOMES)]
    report = draft_new_ads(snapshot, [p for p in proposals if p.kind == "refresh_creative"], settings,
                           make_drafter(settings), skip_ad_sets=busy, segment_rows=segment_rows,
                           feedback=launch_feedback(launches))
    summary.errors += [f"{account.id}: copywriter: {error}" for error in report.errors]
    if report.rejected:
        summary.proposals_by_kind["new_ad_rejected_drafts"] += report.rejected
    return list(report.proposals), list(report.ad_sets)


def _already_open(connection: Connection, proposal: Proposal, cycle_id: int, now: datetime,
                  recent_since: datetime) -> bool:
    """True if the same change awaits a decision, or was reported or rejected recently (a person
    who said no is not asked again every hour); an open action setting the same entity's status or
    budget differently is superseded by this newer proposal (with the rest of its budget plan, if
    it is a leg of one that has not started; one that has started runs first)."""
    waits = yield_to_plans(connection, proposal, cycle_id, now)
    if waits:
        audit_trail.record_event(connection, at=now, event="proposal_skipped", actor="gate",
                           message=f"{proposal.kind} on {proposal.entity_id} waits: {waits}",
                           cycle_id=cycle_id, account_id=proposal.account_id)
        return True
    for existing in open_actions_for(connection, proposal.account_id, proposal.entity_id, proposal.kind,
                                     decided_since=recent_since):
        if existing["change"] == json_ready(proposal.change) or existing["state"] in ("executing", "unknown"):
            audit_trail.record_event(connection, at=now, event="proposal_skipped", actor="gate",
                               message=f"{proposal.kind} on {proposal.entity_id} is already {existing['state']}"
                                       f" (action {existing['id']})",
                               cycle_id=cycle_id, account_id=proposal.account_id)
            return True
        # a state-setting change (status, budget) replaces an older one; additive changes (an
        # exclusion, a negative list, a new ad) with different content stand side by side
        # (a newer upload batch holds every stage of an older one that is still unsent; a newer audience
        # sync plan replaces an older one)
        if existing["state"] not in ("reported", "rejected") and (proposal.kind in STATE_SETTING_KINDS
                                                                   or proposal.kind in (UPLOAD_KIND, SYNC_KIND)):
            transition(connection, existing["id"], "superseded", actor="gate", now=now,
                       reason=f"superseded by a newer proposal in cycle {cycle_id}")
    return False
