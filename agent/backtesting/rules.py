"""Backtests of user rules: the rules (with the built-in policies off unless asked) through the daemon's
cycle on the simulator (agent/backtesting/cycle_arm.py), against no agent, the naive rule and the oracle.

Churn is the agent arm's executed state changes (pause, enable, budget) per ad set per week.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.backtesting.arms import BacktestReport
from agent.backtesting.cycle_arm import WORLDS, backtest_config, run_cycle_backtest
from agent.config import AgentConfig
from agent.rules_config import RuleFileError, parse_rules, read_rule_file
from policies import POLICY_NAMES
from policies.rules.schema import Rule, without_evidence

CHURN_KINDS = ("pause", "enable", "set_budget")


@dataclass(frozen=True)
class RulesBacktest:
    report: BacktestReport
    rules: tuple[str, ...]
    with_policies: bool

    @property
    def churn(self) -> float:
        """State changes per ad set per week in the agent arm."""
        kinds = self.report.arms["agent"].actions_by_kind
        changes = sum(kinds.get(kind, 0) for kind in CHURN_KINDS)
        return changes / max(self.report.ad_sets, 1) / (self.report.days / 7)

    def as_dict(self) -> dict[str, Any]:
        return {**self.report.as_dict(), "rules": list(self.rules), "with_policies": self.with_policies,
                "churn_per_ad_set_week": round(self.churn, 4)}


def world_account_ids(world: str) -> list[str]:
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}: choose from {', '.join(WORLDS)}")
    return [spec.account_id for spec in WORLDS[world]]


def run_rules_backtest(seed: int, days: int, rules: Sequence[Rule], *, config: AgentConfig | None = None,
                       policies: Sequence[str] | None = None, with_policies: bool = False, world: str = "demo",
                       evidence: bool = True) -> RulesBacktest:
    """Replay `rules` for `days` days of the seed's world; the built-in policies run only `with_policies`
    (all of them, or `policies`). Rules set to dry-run are replayed live. `evidence=False` replays the rules without their with_confidence clauses."""
    chosen = tuple((rule if evidence else without_evidence(rule)).model_copy(update={"dry_run": False})
                   for rule in rules)  # replayed as if live: a dry-run rule is being tried out
    base = config if config is not None else backtest_config(WORLDS[world])
    enabled = (tuple(policies) if policies else POLICY_NAMES) if with_policies else ()
    report = run_cycle_backtest(seed, days, enabled, config=base.model_copy(update={"rules": chosen}), world=world)
    return RulesBacktest(report, tuple(rule.name for rule in chosen), with_policies)


def load_rules_for_backtest(path: Path, world: str) -> tuple[Rule, ...]:
    """The rules of `path`, validated against the world's accounts; ValueError naming every problem."""
    if not path.is_file():
        raise ValueError(f"no such rules file: {path}")
    try:
        raw = read_rule_file(path)
    except RuleFileError as error:
        raise ValueError("; ".join(error.problems)) from None
    rules, problems = parse_rules(None, raw, world_account_ids(world))
    if problems:
        raise ValueError(f"{path} is invalid: " + "; ".join(problems))
    if not rules:
        raise ValueError(f"{path} holds no rule")
    return rules
