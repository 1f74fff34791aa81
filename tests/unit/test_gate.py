"""The gate: what happens to one proposal (permission, dry-run, guardrails, kill switch), and
conflicts between one cycle's proposals (one state change per entity, budget plans whole)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from agent.config import AccountConfig, AgentConfig
from agent.decisions.gate import Decision, decide, effective_permission, permission_matrix, resolve_conflicts
from agent.decisions.guardrails import ExecutedChange, GuardrailContext
from agent.experiments.assign import eligible
from agent.experiments.settings import ExperimentSettings
from agent.settings import FreezeWindow, GuardrailSettings
from connectors.records import Entity
from policies.base import Proposal

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
ACCOUNT_ID = "shop"


def config(account_permissions: dict[str, str] | None = None, default_permissions: dict[str, str] | None = None,
           kill_switch: bool = False) -> AgentConfig:
    return AgentConfig.model_validate({
        "kill_switch": kill_switch,
        "defaults": {"permissions": default_permissions or {}},
        "accounts": [{"id": ACCOUNT_ID, "platform": "simulator", "simulate": "meta", "permissions": account_permissions or {}}],
    })


def ad_set(entity_id: str = "s1", budget: str = "100.00") -> Entity:
    return Entity(platform="meta", account_id=ACCOUNT_ID, level="ad_set", entity_id=entity_id,  # type: ignore[arg-type]
                  parent_id="c1", name=entity_id, status="ACTIVE", currency="EUR",  # type: ignore[arg-type]
                  daily_budget=Decimal(budget))


def context(history: list[ExecutedChange] | None = None, **kwargs: Any) -> GuardrailContext:
    return GuardrailContext(now=NOW, timezone="UTC", entities={"s1": ad_set()}, history=history or [], **kwargs)


def proposal(kind: str = "pause", confidence: float | None = None, change: dict[str, Any] | None = None,
             policy: str = "pacing") -> Proposal:
    default = {"from": {"status": "ACTIVE"}, "to": {"status": "PAUSED"}}
    return Proposal(kind=kind, policy=policy, account_id=ACCOUNT_ID, entity_id="s1", entity_level="ad_set",
                    entity_name="s1", rationale="r", change=change or default,
                    evidence={} if confidence is None else {"confidence": confidence})


def decision(the_proposal: Proposal, agent_config: AgentConfig, *, dry_run: bool = False,
             settings: GuardrailSettings | None = None, ctx: GuardrailContext | None = None) -> Decision:
    account = agent_config.accounts[0]
    return decide(the_proposal, account, agent_config, dry_run=dry_run,
                  settings=settings or agent_config.guardrail_settings(account), ctx=ctx or context())


def paused_an_hour_ago() -> list[ExecutedChange]:
    return [ExecutedChange("s1", "enable", {"from": {"status": "PAUSED"}, "to": {"status": "ACTIVE"}},
                           NOW - timedelta(hours=1))]


def test_a_kind_nobody_configured_is_proposed_for_approval() -> None:
    assert decision(proposal("pause"), config()) == Decision(
        "propose", "pending_approval", "permission propose: queued for approval")


def test_the_account_setting_wins_over_the_default_setting() -> None:
    agent_config = config(account_permissions={"pause": "auto"}, default_permissions={"pause": "observe"})
    assert effective_permission("pause", agent_config.accounts[0], agent_config) == "auto"
    assert effective_permission("enable", agent_config.accounts[0], agent_config) == "propose"
    assert effective_permission("pause", AccountConfig(id="other", platform="simulator", simulate="meta"), agent_config) == "observe"


def test_the_permission_matrix_covers_every_account_and_kind() -> None:
    matrix = permission_matrix(config(account_permissions={"set_budget": "auto"}))
    assert matrix[ACCOUNT_ID]["set_budget"] == "auto"
    assert matrix[ACCOUNT_ID]["new_ad"] == "propose"


def test_observe_reports_only() -> None:
    assert decision(proposal(), config({"pause": "observe"})) == Decision(
        "observe", "reported", "permission observe: reported only")


def test_auto_within_the_guardrails_is_approved_for_execution() -> None:
    assert decision(proposal(), config({"pause": "auto"})) == Decision(
        "auto", "approved", "permission auto: within guardrails, approved for execution")


def test_a_recommendation_for_people_is_reported_whatever_the_permission() -> None:
    result = decision(proposal("refresh_creative"), config(default_permissions={"pause": "auto"}))
    assert result == Decision("observe", "reported", "refresh_creative is a recommendation for people: reported")


@pytest.mark.parametrize(("permission", "would"), [
    ("observe", "reported it"), ("propose", "queued it for approval"), ("auto", "executed it")])
def test_dry_run_reports_what_each_level_would_have_done(permission: str, would: str) -> None:
    result = decision(proposal(), config({"pause": permission}), dry_run=True)
    assert result == Decision(permission, "reported", f"dry-run: would have {would} (permission {permission})")


def test_dry_run_says_a_guardrail_would_have_rejected_it() -> None:
    result = decision(proposal(), config({"pause": "auto"}), dry_run=True, ctx=context(paused_an_hour_ago()))
    assert result.state == "reported"
    assert result.reason.startswith("dry-run: would have rejected it: changed (enable) at ")


def test_dry_run_says_auto_would_have_waited_for_a_person() -> None:
    result = decision(proposal(confidence=0.2), config({"pause": "auto"}), dry_run=True,
                      settings=GuardrailSettings(min_confidence=0.5))
    assert result == Decision("auto", "reported", "dry-run: would have queued it for approval "
                              "(policy confidence 0.20 is below 0.50) (permission auto)")


def test_a_cooldown_rejects_even_an_auto_action_and_names_the_rule() -> None:
    result = decision(proposal(), config({"pause": "auto"}), ctx=context(paused_an_hour_ago()))
    assert (result.permission, result.state, result.rules) == ("auto", "rejected", ("cooldown",))
    assert result.reason == f"guardrail: changed (enable) at {NOW - timedelta(hours=1):%Y-%m-%d %H:%M} UTC, " \
                            "within the 72 h cooldown"


def test_a_guardrail_rejection_outranks_observe() -> None:
    result = decision(proposal(), config({"pause": "observe"}), ctx=context(protected=frozenset({"s1"})))
    assert (result.state, result.rules) == ("rejected", ("protected_entity",))
    assert result.reason == "guardrail: s1 is protected and is never touched"


def test_only_blocking_rules_are_named_on_a_rejection() -> None:
    too_big = {"from": {"daily_budget": "100.00"}, "to": {"daily_budget": "150.00"}}
    result = decision(proposal("set_budget", confidence=0.1, change=too_big), config({"set_budget": "auto"}),
                      settings=GuardrailSettings(min_confidence=0.5))
    assert result.state == "rejected"
    assert "max_budget_change_pct" in result.rules
    assert "min_confidence" not in result.rules


def test_the_kill_switch_downgrades_auto_to_approval() -> None:
    result = decision(proposal(), config({"pause": "auto"}), ctx=context(kill_switch=True))
    assert result == Decision("auto", "pending_approval",
                              "auto downgraded to approval: the kill switch is on: no execution", ("kill_switch",))


def test_low_confidence_and_a_full_cycle_downgrade_auto_to_approval() -> None:
    result = decision(proposal(confidence=0.2), config({"pause": "auto"}),
                      settings=GuardrailSettings(min_confidence=0.5, max_actions_per_cycle=3),
                      ctx=context(automatic_actions_this_cycle=3))
    assert (result.state, set(result.rules)) == ("pending_approval", {"min_confidence", "max_actions_per_cycle"})
    assert result.reason.startswith("auto downgraded to approval: ")


def test_a_freeze_window_holds_auto_for_approval() -> None:
    window = FreezeWindow(start=datetime(2026, 11, 23, 0, 0), end=datetime(2026, 11, 24, 0, 0), reason="launch")
    result = decision(proposal(), config({"pause": "auto"}), settings=GuardrailSettings(freeze_windows=(window,)))
    assert (result.state, result.rules) == ("pending_approval", ("freeze_window",))
    assert "(launch)" in result.reason


def test_soft_rules_do_not_change_a_proposal_that_waits_for_a_person_anyway() -> None:
    result = decision(proposal(), config({"pause": "propose"}), ctx=context(kill_switch=True))
    assert result == Decision("propose", "pending_approval", "permission propose: queued for approval")


def test_an_undo_skips_the_cooldown() -> None:
    result = decision(proposal(policy="undo"), config({"pause": "auto"}), ctx=context(paused_an_hour_ago()))
    assert result.state == "approved"


def budget_on_s1(after: str, policy: str = "pacing") -> Proposal:
    return proposal("set_budget", change={"from": {"daily_budget": "100"}, "to": {"daily_budget": after}},
                    policy=policy)


def test_a_pause_beats_a_budget_change_on_the_same_entity() -> None:
    cut, stop = budget_on_s1("90"), proposal("pause")
    winners, losers = resolve_conflicts([cut, stop])
    assert winners == [stop]
    assert losers == [(cut, "superseded in the same cycle by pause from pacing")]


def test_the_lower_of_two_budgets_wins_and_other_kinds_coexist() -> None:
    higher, lower = budget_on_s1("110", "reallocation"), budget_on_s1("90")
    other = proposal("refresh_creative")
    winners, losers = resolve_conflicts([higher, other, lower])
    assert sorted(winners, key=lambda p: p.kind) == [other, lower]
    assert losers == [(higher, "superseded in the same cycle by set_budget from pacing")]


def budget(entity_id: str, before: str, after: str, policy: str = "pacing", plan: str | None = None) -> Proposal:
    return Proposal(kind="set_budget", policy=policy, account_id="a", entity_id=entity_id, entity_level="ad_set",
                    entity_name=entity_id, rationale="r",
                    change={"from": {"daily_budget": before}, "to": {"daily_budget": after}},
                    evidence={"plan": {"id": plan}} if plan else {})


def test_a_plan_that_loses_one_leg_loses_all_of_them() -> None:
    legs = [budget("A", "100", "80", "reallocation", "p1"), budget("B", "100", "110", "reallocation", "p1"),
            budget("C", "100", "110", "reallocation", "p1")]
    pacing = [budget("B", "100", "90"), budget("D", "100", "90")]
    winners, losers = resolve_conflicts(legs + pacing)
    # pacing's lower budget wins on B; without its leg on B the plan would cut the total by 10
    assert sorted((p.entity_id, p.policy) for p in winners) == [("B", "pacing"), ("D", "pacing")]
    assert sorted(p.entity_id for p, _ in losers) == ["A", "B", "C"]
    assert all("budget plan lost the leg on B" in reason for p, reason in losers if p.entity_id in "AC")


def test_a_plan_whose_legs_all_win_stays_whole() -> None:
    legs = [budget("A", "100", "80", "reallocation", "p1"), budget("B", "100", "120", "reallocation", "p1")]
    winners, losers = resolve_conflicts([*legs, budget("A", "100", "90")])
    assert sorted((p.entity_id, p.policy) for p in winners) == [("A", "reallocation"), ("B", "reallocation")]
    assert [(p.entity_id, p.policy) for p, _ in losers] == [("A", "pacing")]


def test_spend_guards_and_dry_runs_are_never_in_an_experiment() -> None:
    everything = ExperimentSettings(holdout_share={"pause": 0.99, "set_budget": 0.99})
    assert eligible(proposal("pause", policy="underperformers"), "approved", everything, dry_run=False)
    assert not eligible(proposal("pause", policy="anomalies"), "approved", everything, dry_run=False)
    over_cap = Proposal(kind="set_budget", policy="pacing", account_id=ACCOUNT_ID, entity_id="s1", entity_level="ad_set",
                        entity_name="s1", rationale="r", change={}, evidence={"variance_pct": 0.3})
    assert not eligible(over_cap, "approved", everything, dry_run=False)
    assert not eligible(proposal("pause", policy="underperformers"), "approved", everything, dry_run=True)
    assert not eligible(proposal("pause", policy="underperformers"), "rejected", everything, dry_run=False)
    assert not eligible(proposal("enable", policy="underperformers"), "approved", everything, dry_run=False)


def test_a_copy_tests_launch_and_its_losers_pause_are_never_held_out() -> None:
    everything = ExperimentSettings(holdout_share={"pause": 0.99, "enable": 0.99})
    assert eligible(proposal("enable", policy="underperformers"), "approved", everything, dry_run=False)
    assert not eligible(proposal("enable", policy="copy_test"), "approved", everything, dry_run=False)
    assert not eligible(proposal("pause", policy="copy_test"), "pending_approval", everything, dry_run=False)
