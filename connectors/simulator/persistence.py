"""Where the simulated platform keeps its state: the world's seed and start day, and the log of
every mutation ever applied to it.

The world is a pure function of (seed, start day, mutation log, date), so this small log is the
whole persistent state. It is also the simulator's own record of what was applied, used by tests
to prove that every approved action reached the platform exactly once.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, DateTime, Index, Integer, MetaData, String, Table

SIM_METADATA = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sim_worlds = Table(
    "sim_worlds",
    SIM_METADATA,
    Column("world_id", String(64), primary_key=True),
    Column("seed", Integer, nullable=False),
    Column("start_day", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sim_mutations = Table(
    "sim_mutations",
    SIM_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("world_id", String(64), nullable=False),
    Column("idempotency_key", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("entity_id", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("params", JSON, nullable=False),
    Column("effective_day", Date, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    # No unique key on idempotency_key, on purpose: like Google Ads and Meta, the simulated
    # platform applies a repeated request again. Exactly-once is the executor's job, and the log
    # shows any repeat.
    Index("ix_sim_mutations_key", "world_id", "idempotency_key"),
)
