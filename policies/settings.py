"""Policy settings: validated parameters, documented where they are defined.

They live beside the policies (not in `agent/`) so that a policy depends on nothing but data.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UnderperformersSettings(StrictModel):
    """Pause ad sets whose ROAS over the window is below target, given enough spend."""

    enabled: bool = True
    target_roas: float = Field(default=2.0, gt=0)
    window_days: int = Field(default=14, ge=3, le=90)
    min_spend: Decimal = Field(default=Decimal("100"), ge=0)
    min_days_live: int = Field(default=7, ge=1)


class PolicySettings(StrictModel):
    """Per-policy settings; an account's `policies:` overrides the defaults key by key."""

    underperformers: UnderperformersSettings = UnderperformersSettings()
