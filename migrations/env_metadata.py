"""Every table the migrations manage: the agent's own, the approval channels', CRM outcomes, segment metrics, the audience ledger and the simulator's state."""

from __future__ import annotations

from sqlalchemy import MetaData

from agent.approvals.records import APPROVALS_METADATA
from agent.experiments.models import EXPERIMENTS_METADATA
from agent.outcomes.models import OUTCOMES_METADATA
from agent.storage.audience_ledger import AUDIENCES_METADATA
from agent.storage.crm_segments import CRM_METADATA
from agent.storage.models import Base
from agent.storage.segment_store import SEGMENTS_METADATA
from connectors.simulator.persistence import SIM_METADATA

TARGET_METADATA: list[MetaData] = [Base.metadata, SIM_METADATA, APPROVALS_METADATA, OUTCOMES_METADATA,
                                  SEGMENTS_METADATA, EXPERIMENTS_METADATA, CRM_METADATA, AUDIENCES_METADATA]
