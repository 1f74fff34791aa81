"""The copywriter's entry point: fatigued or low-CTR ad sets in, `new_ad` proposals out.

`draft_new_ads` is pure apart from the drafter it is given (which may call a language model): it
reads a Snapshot, never the database or a platform, and never raises for a drafting failure. Each
proposal creates the ad PAUSED, so a person (or a later rule) decides when it goes live.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from agent.copywriter.ctr_model import CtrPrediction, FittedModel, TrainingSet, fit
from agent.copywriter.drafter_choice import make_drafter
from agent.copywriter.drafting import Drafter, DraftRequest, Variant
from agent.copywriter.features import FEATURE_NAMES, feature_vector
from agent.copywriter.history import AdRecord, AdText, ad_history, ad_set_context
from agent.copywriter.limits import PlatformLimits, limits_for
from agent.copywriter.patterns import Pattern, find_patterns
from agent.copywriter.settings import CopywriterSettings
from agent.copywriter.triggers import Trigger, find_triggers
from agent.copywriter.validation import Rejection, clean_variant, validate
from agent.errors import NoTextLimits
from policies.base import Proposal, Snapshot

log = logging.getLogger(__name__)
POLICY_NAME = "copywriter"


@dataclass
class DraftReport:
    """What one account's drafting produced; `rejected_counts` is per validation rule."""

    proposals: list[Proposal] = field(default_factory=list)
    rejected_counts: Counter[str] = field(default_factory=Counter)
    drafted: int = 0
    rejected: int = 0
    ad_sets: list[str] = field(default_factory=list)
    drafter: str = ""
    model: str = ""
    patterns: list[Pattern] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    malformed_responses: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"proposals": len(self.proposals), "drafted": self.drafted, "rejected": self.rejected,
                "rejected_counts": dict(self.rejected_counts), "ad_sets": list(self.ad_sets),
                "drafter": self.drafter, "model": self.model, "errors": list(self.errors),
                "malformed_responses": self.malformed_responses}


@dataclass(frozen=True)
class AccountModel:
    """Everything learnt from the account's history, shared by all its ad sets this cycle."""

    limits: PlatformLimits
    history: list[AdRecord]
    themes: dict[str, str]
    patterns: list[Pattern]
    model: FittedModel
    brand: str

    def features(self, text: AdText, ad_set_id: str) -> list[float]:
        return feature_vector(text, self.limits, self.themes.get(ad_set_id, ""), self.brand)

    def predict(self, text: AdText, ad_set_id: str, level: float) -> CtrPrediction:
        return self.model.predict(self.features(text, ad_set_id), ad_set_id, level)


def learn_account(snapshot: Snapshot, settings: CopywriterSettings) -> AccountModel:
    """Patterns and the CTR model from the account's ads (raises NoTextLimits)."""
    limits = limits_for(snapshot.platform, settings.enforce_recommended_limits)
    themes = {e.entity_id: ad_set_context(snapshot, e).theme for e in snapshot.entities.values()
              if e.level == "ad_set"}
    history = ad_history(snapshot, settings.fresh_days, settings.min_ad_impressions)
    brand = settings.brand.name
    vectors = {r.ad_id: feature_vector(r.text, limits, themes.get(r.ad_set_id, ""), brand) for r in history}
    named = {r.ad_id: dict(zip(FEATURE_NAMES, vectors[r.ad_id], strict=True)) for r in history}
    patterns = find_patterns(history, named, settings.pattern_min_ads, settings.pattern_min_z)
    model = fit(TrainingSet.build(history, vectors), settings.ctr_model)
    return AccountModel(limits, history, themes, patterns, model, brand)


def new_ad_params(variant: Variant, limits: PlatformLimits) -> dict[str, Any]:
    """The `new_ad` mutation params (the proposal's `change["to"]`): always created PAUSED."""
    params: dict[str, Any] = {"headline": variant.headlines[0], "description": variant.descriptions[0],
                              "status": "PAUSED", "name": f"{variant.drafter} copy: {variant.headlines[0][:40]}"}
    if limits.headline.max_items > 1 or len(variant.headlines) > 1:
        params["headlines"] = list(variant.headlines)
    if limits.description.max_items > 1 or len(variant.descriptions) > 1:
        params["descriptions"] = list(variant.descriptions)
    if variant.call_to_action:
        params["call_to_action"] = variant.call_to_action
    return params


def _confidence(prediction: CtrPrediction) -> float:
    """P(the variant's CTR beats its ad set's baseline), from the predictive interval."""
    z = NormalDist().inv_cdf(0.5 + prediction.level / 2)
    sigma = (math.log(prediction.high) - math.log(prediction.low)) / (2 * z) if prediction.low > 0 else 0.0
    if sigma <= 0:
        return 0.5
    return NormalDist().cdf(math.log(prediction.ctr / prediction.baseline_ctr) / sigma)


def _proposal(snapshot: Snapshot, trigger: Trigger, variant: Variant, prediction: CtrPrediction,
              learnt: AccountModel, report_rejections: Counter[str]) -> Proposal:
    ad_set = snapshot.entities[trigger.ad_set_id]
    winning = [p.name for p in learnt.patterns if p.winning][:4]
    rationale = (
        f"New copy for ad set {ad_set.name!r}: {trigger.reason}. Drafted by {variant.drafter}"
        + (f" from the account's winning patterns ({', '.join(winning)})" if winning else "")
        + f". Predicted CTR {prediction.ctr:.2%} ({prediction.level:.0%} interval {prediction.low:.2%}"
        f"-{prediction.high:.2%}) against {prediction.baseline_ctr:.2%} for its current ads "
        f"({prediction.model} model, {prediction.training_ads} ads). Created paused for review."
    )
    return Proposal(
        kind="new_ad", policy=POLICY_NAME, account_id=snapshot.account_id, entity_id=ad_set.entity_id,
        entity_level="ad_set", entity_name=ad_set.name,
        change={"from": {}, "to": new_ad_params(variant, learnt.limits)},
        rationale=rationale,
        evidence={
            "trigger": {"kind": trigger.kind, "reason": trigger.reason, **trigger.evidence},
            "drafter": variant.drafter,
            "drafter_note": variant.note,
            "predicted_ctr": prediction.as_evidence(),
            "confidence": round(_confidence(prediction), 4),
            "patterns": [p.as_evidence() for p in learnt.patterns],
            "model": {"name": learnt.model.name, "training_ads": learnt.model.training_ads,
                      "unexplained_sd_log_ctr": round(math.sqrt(learnt.model.scatter), 4),
                      **{k: v for k, v in learnt.model.details.items() if isinstance(v, int | float | str)}},
            "validation": {"passed": True, "rejected_siblings": dict(report_rejections)},
            "test": "within-ad-set CTR model on the account's own ads; platform limits and brand rules checked",
        },
    )


def draft_new_ads(snapshot: Snapshot, refresh_proposals: Sequence[Proposal], settings: CopywriterSettings,
                  drafter: Drafter | None = None, skip_ad_sets: Collection[str] = ()) -> DraftReport:
    """`new_ad` proposals for ad sets with fatigued creative (`refresh_proposals`) or a lagging CTR.

    `skip_ad_sets`: ad sets that already have an open new_ad action (the cycle knows). Never raises
    for drafting failures; they are in `errors`.
    """
    report = DraftReport()
    if not settings.enabled:
        return report
    drafter = drafter or make_drafter(settings)
    report.drafter = drafter.label
    triggers = find_triggers(snapshot, refresh_proposals, settings.low_ctr_ratio, settings.low_ctr_window_days,
                             settings.low_ctr_min_impressions, skip_ad_sets)[: settings.max_ad_sets_per_cycle]
    if not triggers:
        return report
    try:
        learnt = learn_account(snapshot, settings)
    except NoTextLimits as error:
        report.errors.append(str(error))
        return report
    report.model, report.patterns = learnt.model.name, learnt.patterns
    for trigger in triggers:
        _draft_ad_set(snapshot, trigger, learnt, settings, drafter, report)
    return report


def _draft_ad_set(snapshot: Snapshot, trigger: Trigger, learnt: AccountModel, settings: CopywriterSettings,
                  drafter: Drafter, report: DraftReport) -> None:
    context = ad_set_context(snapshot, snapshot.entities[trigger.ad_set_id])
    request = DraftRequest(
        platform=snapshot.platform, limits=learnt.limits, context=context, brand=settings.brand,
        patterns=learnt.patterns, history=learnt.history, count=settings.variants_per_ad_set, reason=trigger.reason,
        themes=learnt.themes, max_similarity=settings.max_similarity,
        score=lambda text: learnt.model.predict_log(learnt.features(text, trigger.ad_set_id), trigger.ad_set_id)[0],
    )
    try:
        result = drafter.draft(request)
    except Exception as error:  # a drafter bug must not stop the account's other proposals
        log.exception("copywriter: drafter %s failed on %s", drafter.label, trigger.ad_set_id)
        report.errors.append(f"{trigger.ad_set_id}: {type(error).__name__}: {error}")
        return
    report.ad_sets.append(trigger.ad_set_id)
    report.errors += result.errors
    report.malformed_responses += result.malformed_responses
    accepted: list[tuple[Variant, CtrPrediction]] = []
    rejections: Counter[str] = Counter()
    for raw in result.variants:
        report.drafted += 1
        variant = clean_variant(raw)
        problems = validate(variant, learnt.limits, settings.brand, context.existing, [v for v, _ in accepted],
                            settings.max_similarity)
        prediction = learnt.predict(variant.text, trigger.ad_set_id, settings.interval)
        if not problems and prediction.lift < settings.min_predicted_lift:
            problems = [Rejection("predicted_below_baseline",
                                  f"predicted lift {prediction.lift:+.1%} is under {settings.min_predicted_lift:+.1%}")]
        if problems:
            report.rejected += 1
            rules = {p.rule for p in problems}
            rejections.update(rules)
            log.info("copywriter: %s draft rejected (%s): %s", trigger.ad_set_id, ", ".join(sorted(rules)),
                     "; ".join(p.message for p in problems)[:300])
            continue
        accepted.append((variant, prediction))
    report.rejected_counts.update(rejections)
    accepted.sort(key=lambda pair: (-pair[1].ctr, pair[0].headlines))
    for variant, prediction in accepted[: settings.max_proposals_per_ad_set]:
        report.proposals.append(_proposal(snapshot, trigger, variant, prediction, learnt, rejections))
