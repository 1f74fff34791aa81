"""The `experiments:` section of the config: holdout shares per action kind, horizon and seed, and
the copy tests' stopping rule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from policies.copy_test import CopyTestSettings
from policies.holdout import CAMPAIGN, ENTITY
from policies.settings import StrictModel

DEFAULT_SHARES = {"pause": 0.1, "set_budget": 0.1, "exclude_audience": 0.1, "add_negative_keywords": 0.1}
# budget raises spill onto the other ad sets of their campaign (docs/experiments.md): their arm is the campaign's
DEFAULT_UNITS: dict[str, Literal["entity", "campaign"]] = {"set_budget": "campaign"}


class CopyTestConfig(StrictModel):
    """Launching approved copy drafts as tests against the ad they challenge (docs/experiments.md)."""

    enabled: bool = Field(default=True, description="launch executed copy drafts as tests (an `enable` through the gate)")
    z_bound: float = Field(default=2.8, gt=0, description="|z| of the CTR difference that ends a test early")
    max_days: int = Field(default=28, ge=1, le=120, description="days after which the higher observed CTR wins")
    min_impressions: int = Field(default=1000, ge=0, description="impressions per ad before any verdict")
    min_conversions: float = Field(default=30.0, ge=0,
                                   description="conversions per ad before the conversion rate counts too")
    final_z: float = Field(default=1.645, ge=0,
                           description="at max_days, the |z| a lead needs to win; below it the test ends without "
                                       "a winner and both ads keep running (0: the higher observed CTR always wins)")
    min_dispersion_days: int = Field(default=4, ge=2, description="days with both ads served before the days' "
                                     "dispersion scales the z (quasi-binomial)")
    min_days: int = Field(default=8, ge=1, description="days since the launch before any verdict (8: a whole week "
                                                      "after the partial launch day)")
    even_rotation: bool = Field(default=True, description="on Google, propose even ad rotation (ROTATE_FOREVER) for "
                                "an ad group while a copy test runs in it, and its optimized rotation back after "
                                "(`set_ad_rotation`, its own permission)")
    launch_within_days: int = Field(default=14, ge=1, le=90,
                                    description="drafts executed longer ago than this are not launched")

    def rule(self) -> CopyTestSettings:
        return CopyTestSettings(z_bound=self.z_bound, max_days=self.max_days, min_impressions=self.min_impressions,
                                min_conversions=self.min_conversions, final_z=self.final_z,
                                min_dispersion_days=self.min_dispersion_days, min_days=self.min_days)


class ExperimentSettings(StrictModel):
    """Which share of eligible proposals of each kind is held out (never executed), and for how long
    the arm of an (entity, kind) pair holds."""

    holdout_share: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_SHARES),
        description="per action kind, the share of first proposals on an entity held out (0 = never); "
                    "proposals that guard spend (runaway pauses, pacing over the cap) are never held out")
    holdout_unit: dict[str, Literal["entity", "campaign"]] = Field(
        default_factory=lambda: dict(DEFAULT_UNITS),
        description="per action kind, the unit of randomization: `entity` (each entity draws its arm) or "
                    "`campaign` (one draw per campaign and kind; every entity of the campaign takes its arm); "
                    "a kind not listed is drawn per entity")
    horizon_days: int = Field(default=14, ge=1, le=120, description="days the arm holds and the effect is measured")
    conversion_lag_days: int = Field(
        default=7, ge=0, le=90, description="days added to the horizon before the estimate, for late conversions")
    seed: int = Field(default=0, description="base of every draw's seed (recorded with each draw)")
    target_roas: float = Field(default=2.0, gt=0, description="surplus = value - target_roas x spend")
    copy_tests: CopyTestConfig = Field(default_factory=CopyTestConfig)

    @field_validator("holdout_share")
    @classmethod
    def _shares_are_probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        for kind, share in value.items():
            if not 0 <= share < 1:
                raise ValueError(f"{kind}: a holdout share is between 0 and 1 (got {share})")
        return value

    def share_for(self, kind: str) -> float:
        return self.holdout_share.get(kind, 0.0)

    def unit_for(self, kind: str) -> str:
        return CAMPAIGN if self.holdout_unit.get(kind) == CAMPAIGN else ENTITY
