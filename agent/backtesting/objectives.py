"""The objectives a backtest runs under (`backtest --objective KIND [--target X]`)."""

from __future__ import annotations

from typing import get_args

from agent.backtesting.cycle_arm import WORLDS
from connectors.simulator.b2b import B2B_TARGETS
from policies.settings import ObjectiveKind, ObjectiveSettings

OBJECTIVE_KINDS: tuple[str, ...] = get_args(ObjectiveKind)
WORLD_TARGETS = {"b2b": B2B_TARGETS}


def backtest_objectives(world: str, kind: str | None, target: float | None) -> dict[str, ObjectiveSettings] | None:
    """Per account of `world`: `kind` with `target`, or the world's own targets for the kind. None without
    a kind (the config's objectives, else platform ROAS). ValueError when a target is needed and unknown."""
    if kind is None:
        if target is not None:
            raise ValueError("--target needs --objective")
        return None
    known = WORLD_TARGETS.get(world, {}).get(kind, {})
    objectives = {}
    for spec in WORLDS[world]:
        chosen = target if target is not None else known.get(spec.account_id)
        if chosen is None:
            if kind == "platform_roas" and not spec.reports_value:
                continue  # lead gen without value: never judged on ROAS (no objective, a warning)
            raise ValueError(f"--objective {kind} needs --target in the {world} world (account {spec.account_id})")
        if kind == "platform_roas" and not spec.reports_value:
            continue
        objectives[spec.account_id] = ObjectiveSettings(kind=kind, target=chosen)  # type: ignore[arg-type]
    return objectives
