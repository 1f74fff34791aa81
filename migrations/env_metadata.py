"""Every table the migrations manage: the agent's own and the simulator's state."""

from __future__ import annotations

from sqlalchemy import MetaData

from agent.models import Base
from connectors.simulator.persistence import SIM_METADATA

TARGET_METADATA: list[MetaData] = [Base.metadata, SIM_METADATA]
