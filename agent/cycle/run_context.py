"""What every step of one cycle shares, built once per cycle and never changed: `RunContext`.

The cycle (agent/cycle/run.py), the per-account turn (agent/cycle/account_turn.py) and the pull
(agent/cycle/account_pull.py) read their database, config, connectors, clock and flags from it instead
of passing each along. How accounts are run (threads here, or Celery workers) and how approvers are
told are chosen by the caller (agent/bootstrap.py builds both) and passed in as `AccountRunner`
and `Notify`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from agent.clock import Clock
from agent.config import AgentConfig
from agent.cycle.summary import CycleSummary
from connectors.base import Connector

Progress = Callable[[str], None]
Notify = Callable[[], Counter[str]]  # announce pending actions to approvers; counts by channel


def _silent(_message: str) -> None:
    return None


def _never() -> bool:
    return False


@dataclass(frozen=True)
class RunContext:
    """One cycle's shared, read-only state.

    `say` reports progress to a person (the CLI's status line); `stopping` is polled between
    accounts and before execution (a service asked to shut down).
    """

    engine: Engine
    config: AgentConfig
    connectors: Mapping[str, Connector]
    clock: Clock
    dry_run: bool
    cycle_id: int
    say: Progress = _silent
    stopping: Callable[[], bool] = _never


# Pulls, evaluates and gates every account of the cycle; returns each started account's part.
AccountRunner = Callable[[RunContext], list[CycleSummary]]
