"""Reading and writing the experiments table. The arm of a row is never updated."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, insert, select, update

from agent.experiments.models import Experiment
from agent.storage.models import Action
from policies.holdout import CAMPAIGN, ENTITY, Draw

EXPERIMENTS: Table = Experiment.__table__  # type: ignore[assignment]


def current_arm(connection: Connection, account_id: str, entity_id: str, kind: str,
                now: datetime) -> RowMapping | None:
    """The pair's assignment whose horizon has not ended, if any (the newest)."""
    query = select(EXPERIMENTS).where(
        Experiment.account_id == account_id, Experiment.entity_id == entity_id, Experiment.kind == kind,
        Experiment.horizon_end > now,
    ).order_by(Experiment.id.desc()).limit(1)
    return connection.execute(query).mappings().one_or_none()


def current_cluster_arm(connection: Connection, account_id: str, cluster_id: str, kind: str,
                        now: datetime) -> RowMapping | None:
    """The campaign's draw for `kind` whose horizon has not ended, if any: its first row (the one that
    drew the arm; every later entity of the campaign copies it)."""
    live = select(EXPERIMENTS).where(
        Experiment.account_id == account_id, Experiment.cluster_id == cluster_id, Experiment.kind == kind,
        Experiment.unit == CAMPAIGN, Experiment.horizon_end > now,
    ).order_by(Experiment.id.desc()).limit(1)
    newest = connection.execute(live).mappings().one_or_none()
    if newest is None:
        return None
    first = select(EXPERIMENTS).where(
        Experiment.account_id == account_id, Experiment.cluster_id == cluster_id, Experiment.kind == kind,
        Experiment.unit == CAMPAIGN, Experiment.draw_seed == newest["draw_seed"],
    ).order_by(Experiment.id).limit(1)
    return connection.execute(first).mappings().one()


def record_draw(connection: Connection, *, action_id: int, account_id: str, entity_id: str, entity_level: str,
                kind: str, draw: Draw, drawn_at: datetime, horizon_end: datetime,
                measure_after: datetime, unit: str = ENTITY, cluster_id: str | None = None) -> int:
    result = connection.execute(insert(Experiment).values(
        action_id=action_id, account_id=account_id, entity_id=entity_id, entity_level=entity_level, kind=kind,
        arm=draw.arm, draw_seed=str(draw.seed), draw_uniform=draw.uniform, share=draw.share, drawn_at=drawn_at,
        horizon_end=horizon_end, measure_after=measure_after, unit=unit, cluster_id=cluster_id, estimate=None,
        estimated_at=None,
    ))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def experiments_since(connection: Connection, since: datetime | None = None,
                      accounts: list[str] | None = None) -> list[RowMapping]:
    """Assignments drawn since `since` (all, without it), oldest first."""
    query = select(EXPERIMENTS).order_by(Experiment.id)
    if since is not None:
        query = query.where(Experiment.drawn_at >= since)
    if accounts is not None:
        query = query.where(Experiment.account_id.in_(sorted(accounts)))
    return list(connection.execute(query).mappings())


def save_estimate(connection: Connection, experiment_id: int, estimate: Mapping[str, Any], now: datetime) -> None:
    """The entity's measured before/after figures (the arm stays as drawn)."""
    connection.execute(update(Experiment).where(Experiment.id == experiment_id)
                       .values(estimate=dict(estimate), estimated_at=now))


def experiment_summary(row: Mapping[Any, Any]) -> dict[str, Any]:
    """What an action shows of its assignment: arm, seed, draw, horizon and the unit drawn (with the
    campaign whose draw it is, for a campaign's)."""
    return {
        "experiment_id": row["id"], "arm": row["arm"], "draw_seed": row["draw_seed"],
        "draw_uniform": round(float(row["draw_uniform"]), 6), "share": row["share"],
        "drawn_at": row["drawn_at"].isoformat(), "horizon_end": row["horizon_end"].isoformat(),
        "unit": row.get("unit") or ENTITY, "cluster_id": row.get("cluster_id"),
    }


def held_out_changes(connection: Connection, account_id: str, entity_id: str, kind: str,
                     since: datetime) -> list[Any]:
    """The changes of the pair's actions held out since `since` (the start of its horizon)."""
    query = select(Action.change).where(
        Action.account_id == account_id, Action.entity_id == entity_id, Action.kind == kind,
        Action.state == "held_out", Action.created_at >= since)
    return list(connection.execute(query).scalars())
