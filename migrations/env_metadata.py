"""Every table the migrations manage: the agent's own, the approval channels' and the simulator's state."""

from __future__ import annotations

from sqlalchemy import MetaData

from agent.approvals.records import APPROVALS_METADATA
from agent.models import Base
from connectors.simulator.persistence import SIM_METADATA

TARGET_METADATA: list[MetaData] = [Base.metadata, SIM_METADATA, APPROVALS_METADATA]
