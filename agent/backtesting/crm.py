"""The simulated CRM of a B2B backtest, fed into the outcome store day by day.

Each backtest day, before the agent's cycle, the CRM stages reached by then (noon UTC of the day) of
leads clicked before it are imported the way a daily CRM export or the webhook would bring them:
upserted by (CRM id, stage) and attributed by click id. So the cycle's snapshots hold what was
knowable that day, and a pipeline objective sees pipeline arrive weeks after the click.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from agent.backtesting.arms import PipelineMeasure
from agent.config import AgentConfig
from agent.outcomes.importing import store_records
from agent.outcomes.records import OutcomeRecord
from connectors.simulator.b2b import SimulatedStage, lead_qualities, lead_stages_of, pipeline_usd
from connectors.simulator.dynamics import AppliedMutation, simulate
from connectors.simulator.world import World

MATURITY_DAYS = 29  # the simulator reports every conversion (lead) within 28 days
SOURCE = "simulated CRM"


def _record(stage: SimulatedStage) -> OutcomeRecord:
    click = {stage.click_field: stage.click_id} if stage.click_field else {}
    return OutcomeRecord(crm_id=stage.crm_id, stage=stage.stage, stage_at=stage.at,
                         amount=Decimal(stage.amount) if stage.amount else None,
                         currency=stage.currency if stage.amount else None, **click)


class CrmFeed:
    """Leads of each new click day and their stages, imported once reached."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.qualities = lead_qualities(world)
        self.clicked_until = world.start
        self.pending: list[SimulatedStage] = []

    def feed(self, engine: Engine, config: AgentConfig, mutations: Sequence[AppliedMutation], today: date) -> int:
        """Import the stages reached by noon UTC of `today`; returns how many."""
        if today > self.clicked_until:
            # Mutations act from their effective day on, so days before today are final already.
            final = simulate(self.world, mutations, today + timedelta(days=MATURITY_DAYS))
            self.pending += lead_stages_of(self.world, final.metrics, self.qualities, self.clicked_until, today)
            self.clicked_until = today
        now = datetime.combine(today, time(12), UTC)
        due = [stage for stage in self.pending if stage.at < now]
        self.pending = [stage for stage in self.pending if stage.at >= now]
        if due:
            with engine.begin() as connection:
                store_records(connection, config, [_record(s) for s in due], SOURCE, now, everything=False)
        return len(due)


def pipeline_measure(days: int, target: float) -> Callable[[World], tuple[PipelineMeasure, float]]:
    """For `run_backtest(pipeline=...)`: each arm's pipeline (USD) of the backtest days' clicks, every
    stage reached, and the pipeline ROAS target of the surplus."""
    def for_world(world: World) -> tuple[PipelineMeasure, float]:
        qualities = lead_qualities(world)

        def measure(mutations: Sequence[AppliedMutation]) -> float:
            final = simulate(world, mutations, world.start + timedelta(days=days + MATURITY_DAYS))
            return pipeline_usd(world, lead_stages_of(world, final.metrics, qualities, world.start,
                                                      world.start + timedelta(days=days)))
        return measure, target
    return for_world
