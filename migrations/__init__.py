"""Alembic migrations for the agent's tables and the simulator's state."""
