"""What one cycle did: the totals the CLI prints, the `cycles` table stores and Prometheus counts.

Each account's part (run in a thread or on a Celery worker) is a `CycleSummary` of its own, added
to the cycle's with `absorb`; a worker's part travels as `as_dict()` and comes back with `from_dict`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CycleSummary:
    """What one cycle did, for the CLI's summary and the `cycles` table."""

    cycle_id: int
    dry_run: bool
    accounts: int = 0
    accounts_failed: int = 0
    ad_sets: int = 0
    metric_rows_upserted: int = 0
    search_term_rows_upserted: int = 0
    proposals_by_kind: Counter[str] = field(default_factory=Counter)
    actions_by_state: Counter[str] = field(default_factory=Counter)
    execution: Counter[str] = field(default_factory=Counter)
    notifications: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    # writes that failed or whose outcome is unknown: the cycle is `degraded`, not `ok`
    write_problems: list[str] = field(default_factory=list)
    status: str = "running"
    seconds: float = 0.0
    # accounts whose approved actions were executed right after their gating (not again at the end)
    executed_accounts: set[str] = field(default_factory=set)

    def absorb(self, part: CycleSummary) -> None:
        """Add one account's part (run in a thread or on a worker) to the cycle's totals."""
        self.accounts += part.accounts
        self.accounts_failed += part.accounts_failed
        self.ad_sets += part.ad_sets
        self.metric_rows_upserted += part.metric_rows_upserted
        self.search_term_rows_upserted += part.search_term_rows_upserted
        self.proposals_by_kind.update(part.proposals_by_kind)
        self.actions_by_state.update(part.actions_by_state)
        self.execution.update(part.execution)
        self.errors += part.errors
        self.write_problems += part.write_problems
        self.executed_accounts |= part.executed_accounts

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CycleSummary:
        return cls(
            cycle_id=int(data["cycle_id"]), dry_run=bool(data["dry_run"]), accounts=int(data["accounts"]),
            accounts_failed=int(data["accounts_failed"]), ad_sets=int(data["ad_sets"]),
            metric_rows_upserted=int(data["metric_rows_upserted"]),
            search_term_rows_upserted=int(data["search_term_rows_upserted"]),
            proposals_by_kind=Counter(data["proposals_by_kind"]), actions_by_state=Counter(data["actions_by_state"]),
            errors=list(data["errors"]), write_problems=list(data.get("write_problems", [])),
            execution=Counter(data.get("execution", {})), executed_accounts=set(data.get("executed_accounts", [])),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle_id": self.cycle_id,
            "dry_run": self.dry_run,
            "accounts": self.accounts,
            "accounts_failed": self.accounts_failed,
            "ad_sets": self.ad_sets,
            "metric_rows_upserted": self.metric_rows_upserted,
            "search_term_rows_upserted": self.search_term_rows_upserted,
            "proposals_by_kind": dict(self.proposals_by_kind),
            "actions_by_state": dict(self.actions_by_state),
            "execution": dict(self.execution),
            "notifications": dict(self.notifications),
            "errors": list(self.errors),
            "write_problems": list(self.write_problems),
            "executed_accounts": sorted(self.executed_accounts),
        }
