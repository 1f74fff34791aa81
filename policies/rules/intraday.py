"""Which rules read the account's current day (`today`, or `month_to_date`, which includes it), so the
pull knows to read today's partial rows for them (docs/rules.md, "Intraday")."""

from __future__ import annotations

from collections.abc import Sequence

from policies.rules.schema import AllOf, AnyOf, Comparison, Condition, NotOf, Rule

CURRENT_DAY_WINDOWS = frozenset({"today", "month_to_date"})


def _windows(condition: Condition) -> set[str]:
    if isinstance(condition, AllOf):
        return set().union(*(_windows(c) for c in condition.all))
    if isinstance(condition, AnyOf):
        return set().union(*(_windows(c) for c in condition.any))
    if isinstance(condition, NotOf):
        return _windows(condition.not_)
    assert isinstance(condition, Comparison)
    found = {condition.window} if condition.metric != "budget" else set()  # budget ignores its window
    return found | ({condition.other.window} if condition.other is not None else set())


def reads_current_day(rule: Rule) -> bool:
    return bool(_windows(rule.when) & CURRENT_DAY_WINDOWS)


def wants_intraday(rules: Sequence[Rule], account_id: str, platform: str) -> bool:
    """Whether any enabled rule that may look at this account reads its current day."""
    return any(rule.enabled and reads_current_day(rule)
               and (not rule.scope.accounts or account_id in rule.scope.accounts)
               and (not rule.scope.platforms or platform in rule.scope.platforms) for rule in rules)
