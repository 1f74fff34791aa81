"""Policies: pure functions from a snapshot of an account to proposals. No I/O, no clock."""

from __future__ import annotations

from policies.settings import PolicySettings
from policies.base import Proposal, Snapshot
from policies.underperformers import propose_pauses


def evaluate(snapshot: Snapshot, settings: PolicySettings) -> list[Proposal]:
    """Every enabled policy's proposals for one account."""
    return [*propose_pauses(snapshot, settings.underperformers)]
