"""Policy settings: validated parameters, documented where they are defined.

They live beside the policies (not in `agent/`) so that a policy depends on nothing but data. Every
model forbids unknown keys; `PolicySettings` groups one model per policy under the policy's name.
Money thresholds are in the account's currency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UnderperformersSettings(StrictModel):
    """Pause ad sets whose true ROAS is, with high posterior probability, below target."""

    enabled: bool = True
    target_roas: float = Field(default=2.0, gt=0, description="Conversion value / spend the ad set must reach.")
    window_days: int = Field(
        default=28, ge=3, le=90,
        description="Trailing window ending yesterday (long: daily re-tests of short windows pause by chance).",
    )
    min_spend: Decimal = Field(default=Decimal("100"), ge=0, description="No decision before this spend in the window.")
    min_days_live: int = Field(default=7, ge=1, description="No decision before this many days with delivery.")
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1.0,
        description="Pause only when the posterior P(true ROAS < target) is at least this (re-tested daily).",
    )
    settled_confidence: float | None = Field(
        default=0.985, gt=0.5, lt=1.0,
        description="Stricter bar once an ad set has been judged daily for `settled_after_days` (None: `confidence`): "
        "each daily re-test is another chance for a winner to dip below target by luck.",
    )
    settled_after_days: int = Field(
        default=14, ge=0, description="Delivery days after learning from which `settled_confidence` applies.",
    )
    settled_tightening: float = Field(
        default=2.0, ge=0, le=4,
        description="How fast the settled bar keeps rising with the days an ad set has been watched after "
        "learning: its false-alarm share 1 - settled_confidence shrinks by (settled_after_days / days) to this "
        "power (0: a single step at settled_after_days). What survives weeks of daily tests is mostly near target.",
    )
    indifference_margin: float = Field(
        default=0.1, ge=0, lt=0.5,
        description="Pause only when P(true ROAS < target x (1 - margin)) reaches the bar: an ad set within the "
        "margin of target loses little (reallocation moves its budget), and daily re-tests of near-target ad "
        "sets are where false pauses come from.",
    )
    empirical_value_prior: bool = Field(
        default=True,
        description="Weigh the account's value per conversion in each ad set's by how alike the account's ad sets' "
        "values are (empirical Bayes, bounded by prior_conversions and max_value_prior_conversions) instead of "
        "by prior_conversions.",
    )
    max_value_prior_conversions: float = Field(
        default=25.0, gt=0, description="Upper bound of the empirical value prior's weight, in conversions.",
    )
    consistency_confidence: float | None = Field(
        default=None, gt=0, lt=1,
        description="Optional: each half of the window must also show P(ROAS < target) >= this (e.g. 0.75).",
    )
    prior_conversions: float = Field(
        default=2.0, ge=0,
        description="Weight, in pseudo-conversions, of the account-wide rates the ad set is shrunk towards.",
    )
    min_evidence_days: int = Field(
        default=3, ge=1, description="Days with delivery after the learning phase before any verdict.",
    )
    learning_days: int = Field(
        default=7, ge=0, description="Length of an ad set's launch learning phase (from its `created` attribute).",
    )
    learning_efficiency: float = Field(
        default=0.7, gt=0, le=1,
        description="Return during learning relative to after it: learning days count as this share of their spend.",
    )
    value_cv: float | None = Field(
        default=None, gt=0,
        description="Coefficient of variation of one conversion's value; None estimates it from the account.",
    )
    evidence_floor_conversions: float = Field(
        default=20.0, ge=0,
        description="Budget policies never cut a budget below what gives a loser at half the target this many "
        "conversions in `window_days` (policies/evidence_floor.py); 0 turns the floor off.",
    )


class ReallocationSettings(StrictModel):
    """Move daily budget from budget holders with low marginal ROAS to budget-limited ones with high."""

    enabled: bool = True
    window_days: int = Field(default=14, ge=7, le=90, description="Days of history behind the marginal ROAS.")
    min_spend: Decimal = Field(default=Decimal("100"), ge=0, description="Holders with less window spend are left alone.")
    prior_elasticity: float = Field(
        default=0.7, gt=0, le=1,
        description="Assumed d log(value) / d log(spend) before the data speaks (1 = constant returns).",
    )
    min_improvement: float = Field(
        default=0.25, ge=0,
        description="Move money only if the receiver's marginal ROAS beats the donor's by this fraction.",
    )
    headroom_utilisation: float = Field(
        default=0.9, gt=0, le=1,
        description="A receiver must have spent at least this share of its budget on recent days (budget-limited).",
    )
    max_change_pct: float = Field(default=0.2, gt=0, le=1, description="Largest change of one budget, as a fraction of it.")
    learning_margin_pct: float = Field(
        default=0.005, ge=0, lt=1,
        description="Moves stay this fraction below max_change_pct (platforms restart learning above it).",
    )
    max_change_amount: Decimal | None = Field(default=None, gt=0, description="Largest change of one budget, absolute.")
    max_daily_shift_pct: float = Field(
        default=0.1, gt=0, le=1, description="Most money moved in one day, as a fraction of the account's total budget.",
    )
    min_change_amount: Decimal = Field(default=Decimal("1"), ge=0, description="Smaller moves are not worth an action.")
    min_daily_budget: Decimal = Field(default=Decimal("5"), ge=0, description="Floor: no budget is cut below this.")
    max_daily_budget: Decimal | None = Field(default=None, gt=0, description="Ceiling: no budget is raised above this.")
    max_changes_per_week: int = Field(default=2, ge=1, description="Changes to one entity in the last 7 days, at most.")
    allow_total_increase: bool = Field(
        default=False, description="May the total budget grow (receivers funded without donors)?",
    )
    max_total_increase_pct: float = Field(
        default=0.0, ge=0, le=1, description="With allow_total_increase: at most this fraction more per day.",
    )
    min_receiver_marginal_roas: float = Field(
        default=1.0, gt=0,
        description="A receiver's next unit of spend must return at least this (1.0 = break-even at the margin).",
    )


class PacingSettings(StrictModel):
    """Keep month-to-date spend heading for the monthly budget."""

    enabled: bool = True
    tolerance_pct: float = Field(
        default=0.05, ge=0, lt=1, description="Act only when the projected month end misses the budget by more.",
    )
    run_rate_days: int = Field(default=14, ge=3, le=60, description="Recent days behind the daily run rate.")
    seasonality_weeks: int = Field(default=8, ge=1, le=26, description="Weeks of history behind day-of-week factors.")
    max_change_pct: float = Field(
        default=0.2, gt=0, le=1,
        description="Largest change of one budget per day (platforms restart learning above about 20%).",
    )
    learning_margin_pct: float = Field(
        default=0.005, ge=0, lt=1,
        description="Moves stay this fraction below max_change_pct (exact decimal, rounded toward the current budget).",
    )
    min_daily_budget: Decimal = Field(default=Decimal("1"), ge=0, description="Floor for any corrected budget.")


class RemedyLadderSettings(StrictModel):
    """Before pausing an ad set that was scaled up, cut it back toward its last profitable budget
    (policies/remedy_ladder.py); a pause is for an ad set that loses at any budget."""

    enabled: bool = True
    min_scale_up_pct: float = Field(
        default=0.3, gt=0, le=10,
        description="An earlier budget counts as a scale-up's start if today's is at least this much higher.",
    )
    earlier_loser_probability: float = Field(
        default=0.5, gt=0, lt=1,
        description="At the earlier budget the ad set counts as a loser too when P(ROAS < target) there is this or more.",
    )
    min_level_days: int = Field(
        default=5, ge=1, description="Delivery days (after learning) an earlier budget needs before it can vouch.",
    )


class BudgetChurnSettings(StrictModel):
    """Hysteresis for budget policies (reallocation, pacing): no noise-chasing near a boundary."""

    min_change_pct: float = Field(default=0.05, ge=0, lt=1, description="Smaller budget moves are not proposed.")
    min_change_amount: Decimal = Field(
        default=Decimal("1"), ge=0, description="Nor moves smaller than this, in the account currency.",
    )
    reversal_days: int = Field(
        default=8, ge=0, description="No raise within this many days of a cut (nor a cut after a raise)...",
    )
    decisive_improvement: float = Field(
        default=1.0, ge=0,
        description="...unless the receiver's marginal ROAS beats the donor's by this fraction (reallocation)...",
    )
    decisive_variance_pct: float = Field(
        default=0.15, ge=0, description="...or the month is projected this far off its budget (pacing).",
    )
    max_changes_per_week: int = Field(default=1, ge=1, description="Budget changes per entity in 7 days, at most.")


class AnomalySettings(StrictModel):
    """Flag days that break from a weekday-aware robust baseline; pause on severe runaway spend."""

    enabled: bool = True
    baseline_days: int = Field(default=28, ge=14, le=90, description="Days before the checked day forming the baseline.")
    check_days: int = Field(default=1, ge=1, le=7, description="Most recent complete days to check.")
    warning_z: float = Field(default=4.0, gt=0, description="Robust z-score (per MAD) for a warning.")
    critical_z: float = Field(default=7.0, gt=0, description="Robust z-score for a critical flag.")
    min_relative_change: float = Field(default=0.3, ge=0, description="Ignore shifts smaller than this fraction.")
    min_clicks: int = Field(default=30, ge=0, description="Ratio metrics need this many clicks on the day.")
    min_daily_spend: Decimal = Field(default=Decimal("10"), ge=0, description="Scopes spending less are not checked.")
    outage_min_expected_conversions: float = Field(
        default=8.0, gt=0, description="Tracking-outage check needs this many expected conversions.",
    )
    outage_max_ratio: float = Field(
        default=0.15, ge=0, lt=1, description="Observed / expected conversions at or below this suggests an outage.",
    )
    runaway_budget_multiple: float = Field(
        default=2.5, gt=1, description="Spend above this multiple of the daily budget is runaway spend.",
    )
    runaway_baseline_multiple: float = Field(
        default=2.5, gt=1, description="Spend above this multiple of the weekday-adjusted usual (and critical z).",
    )
    pause_on_runaway: bool = Field(default=True, description="Propose pausing the ad set on critical runaway spend.")
    known_change_days: int = Field(
        default=14, ge=0, le=60,
        description="Days after one of the agent's own changes during which shifts it would cause are explained.",
    )

    @model_validator(mode="after")
    def _critical_above_warning(self) -> AnomalySettings:
        if self.critical_z < self.warning_z:
            raise ValueError("critical_z must be at least warning_z")
        return self


class CreativeFatigueSettings(StrictModel):
    """Ads whose click-through rate has decayed against their early life as frequency rose."""

    enabled: bool = True
    baseline_days: int = Field(default=7, ge=3, description="First days of delivery forming the early-life CTR.")
    recent_days: int = Field(default=7, ge=3, description="Latest days compared with it.")
    min_impressions: int = Field(default=2000, ge=0, description="Each period needs at least this many impressions.")
    min_decline: float = Field(default=0.2, gt=0, lt=1, description="Relative CTR drop that matters.")
    max_p_value: float = Field(default=0.01, gt=0, lt=1, description="One-sided two-proportion z-test level.")
    min_frequency: float = Field(
        default=2.0, ge=0, description="Recent frequency (impressions per person) must reach this.",
    )


class NegativeKeywordsSettings(StrictModel):
    """Propose negatives for search terms that spend without converting, or look irrelevant."""

    enabled: bool = True
    window_days: int = Field(default=30, ge=7, le=365, description="Search-term days aggregated.")
    min_clicks: int = Field(default=15, ge=1, description="Clicks a term needs before it can be judged.")
    min_spend: Decimal = Field(default=Decimal("20"), ge=0, description="Spend a term needs before it can be judged.")
    max_p_zero: float = Field(
        default=0.05, gt=0, le=1,
        description="Block only if zero conversions is this unlikely at the campaign's conversion rate.",
    )
    commercial_max_p_zero: float = Field(
        default=0.01, gt=0, le=1,
        description="The stricter bar for terms with commercial intent (a buying word, or a product or brand word "
        "of the account's keywords and `brand_terms`): blocking a buyer costs more than blocking a browser.",
    )
    commercial_words: list[str] = Field(
        default_factory=lambda: ["buy", "buying", "price", "prices", "pricing", "cost", "costs", "subscription",
                                 "subscribe", "order", "purchase", "shop", "deal", "deals", "discount", "coupon",
                                 "cheap", "sale", "quote"],
        description="Words that mark a search term as commercial intent.",
    )
    brand_terms: list[str] = Field(
        default_factory=list, description="Product or brand names beyond the words of the account's keywords.",
    )
    irrelevant_patterns: list[str] = Field(
        default_factory=list, description="Regular expressions (case-insensitive) for terms never worth buying.",
    )
    phrase_min_terms: int = Field(
        default=2, ge=2, description="A word shared by this many wasteful terms becomes one PHRASE negative.",
    )
    max_keywords_per_proposal: int = Field(default=50, ge=1, description="Cap per list proposal.")

    @model_validator(mode="after")
    def _patterns_compile(self) -> NegativeKeywordsSettings:
        import re

        for pattern in self.irrelevant_patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"irrelevant_patterns: {pattern!r} is not a valid regex: {error}") from None
        return self


class AudienceOverlapSettings(StrictModel):
    """Exclude a strong ad set's audience from a weaker ad set that competes for the same people."""

    enabled: bool = True
    overlap_threshold: float = Field(
        default=0.3, gt=0, le=1, description="Overlap / smaller audience above which two audiences compete.",
    )
    window_days: int = Field(default=14, ge=3, le=90, description="Days behind the performance comparison.")
    min_spend: Decimal = Field(default=Decimal("50"), ge=0, description="Each ad set needs this window spend.")
    min_roas_gap: float = Field(
        default=0.1, ge=0, description="The stronger must beat the weaker's ROAS by this fraction to decide.",
    )
    max_partners_per_ad_set: int = Field(
        default=4, ge=0,
        description="Reach estimates pair each competing ad set with at most this many others it can overlap "
                    "with, those spending the most over the window (0: every pair). Fewer requests, at the cost "
                    "of not comparing two low spenders with each other (docs/performance.md, sixth round).",
    )
    reach_max_age_days: int = Field(
        default=28, ge=1, le=90,
        description="An unchanged reach estimate is reused up to this many days (audience sizes drift slowly); "
                    "each is refreshed on a day of its own within that span, so refreshes are spread out.",
    )


class SegmentExclusionsSettings(StrictModel):
    """Cut a segment (device, placement, company size) that returns less than the target
    (policies/segment_exclusions.py); its evidence bar is the underperformers' one."""

    enabled: bool = True


ObjectiveKind = Literal["platform_roas", "platform_cpa", "pipeline_roas", "cpql"]
TARGET_MEANING: dict[str, str] = {
    "platform_roas": "the conversion value / spend an ad set must reach, as the platform reports it",
    "platform_cpa": "the most a platform-reported conversion (a lead) may cost, in the account's currency",
    "pipeline_roas": "the attributed CRM pipeline / spend an ad set must reach",
    "cpql": "the most a qualified lead (CRM) may cost, in the account's currency",
}
FUNNEL_STAGES = ("lead", "mql", "sql", "opportunity", "won")


class ObjectiveSettings(StrictModel):
    """What ad sets are judged on (docs/policies.md, "Optimizing on outcomes"); overrides the
    per-policy ROAS targets. `qualified_stage` comes from the config's `outcomes:` section."""

    kind: ObjectiveKind
    target: float | None = Field(default=None, gt=0, description="see TARGET_MEANING")
    qualified_stage: str = Field(default="sql", description="the CRM stage that makes a lead qualified (cpql)")

    @model_validator(mode="after")
    def _needs_target(self) -> ObjectiveSettings:
        if self.target is None:
            raise ValueError(f"objective {self.kind} needs a target: {TARGET_MEANING[self.kind]}")
        if self.qualified_stage not in FUNNEL_STAGES:
            raise ValueError(f"unknown stage {self.qualified_stage!r}: one of {', '.join(FUNNEL_STAGES)}")
        return self

    @property
    def uses_crm(self) -> bool:
        return self.kind in ("pipeline_roas", "cpql")


class PolicySettings(StrictModel):
    """Per-policy settings; an account's `policies:` overrides the defaults key by key."""

    underperformers: UnderperformersSettings = UnderperformersSettings()
    reallocation: ReallocationSettings = ReallocationSettings()
    pacing: PacingSettings = PacingSettings()
    budget_churn: BudgetChurnSettings = BudgetChurnSettings()
    remedy_ladder: RemedyLadderSettings = RemedyLadderSettings()
    anomalies: AnomalySettings = AnomalySettings()
    creative_fatigue: CreativeFatigueSettings = CreativeFatigueSettings()
    negative_keywords: NegativeKeywordsSettings = NegativeKeywordsSettings()
    audience_overlap: AudienceOverlapSettings = AudienceOverlapSettings()
    segment_exclusions: SegmentExclusionsSettings = SegmentExclusionsSettings()
    objective: ObjectiveSettings | None = None  # from the account's (or defaults') `objective:`

    def within_change_limit(self, max_change_pct: float) -> PolicySettings:
        """These settings with no budget policy aiming above `max_change_pct` (a fraction: the
        guardrail's `max_budget_change_pct` / 100), so the policies' limit and the guardrail agree."""
        if self.reallocation.max_change_pct <= max_change_pct and self.pacing.max_change_pct <= max_change_pct:
            return self
        return self.model_copy(update={
            "reallocation": self.reallocation.model_copy(
                update={"max_change_pct": min(self.reallocation.max_change_pct, max_change_pct)}),
            "pacing": self.pacing.model_copy(update={"max_change_pct": min(self.pacing.max_change_pct, max_change_pct)}),
        })
