"""The `experiments:` section of the config: holdout shares per action kind, horizon and seed."""

from __future__ import annotations

from pydantic import Field, field_validator

from policies.settings import StrictModel

DEFAULT_SHARES = {"pause": 0.1, "set_budget": 0.1, "exclude_audience": 0.1, "add_negative_keywords": 0.1}


class ExperimentSettings(StrictModel):
    """Which share of eligible proposals of each kind is held out (never executed), and for how long
    the arm of an (entity, kind) pair holds."""

    holdout_share: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_SHARES),
        description="per action kind, the share of first proposals on an entity held out (0 = never); "
                    "proposals that guard spend (runaway pauses, pacing over the cap) are never held out")
    horizon_days: int = Field(default=14, ge=1, le=120, description="days the arm holds and the effect is measured")
    conversion_lag_days: int = Field(
        default=7, ge=0, le=90, description="days added to the horizon before the estimate, for late conversions")
    seed: int = Field(default=0, description="base of every draw's seed (recorded with each draw)")
    target_roas: float = Field(default=2.0, gt=0, description="surplus = value - target_roas x spend")

    @field_validator("holdout_share")
    @classmethod
    def _shares_are_probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        for kind, share in value.items():
            if not 0 <= share < 1:
                raise ValueError(f"{kind}: a holdout share is between 0 and 1 (got {share})")
        return value

    def share_for(self, kind: str) -> float:
        return self.holdout_share.get(kind, 0.0)
